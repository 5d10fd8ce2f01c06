"""Positions in Qt's text documents against positions in Python strings.

A ``QTextDocument`` counts UTF-16 code units, so a character outside the Basic Multilingual
Plane (most emoji) is two positions there and one index in a ``str``. Everything Studio stores
(cursor, revisions, where a generation went) counts ``str`` indices; the editor converts at its
edge with these two functions.
"""

from __future__ import annotations

from PySide6.QtGui import QTextDocument


def document_text(document: QTextDocument) -> str:
    """The text of a Qt document exactly as typed: unlike ``toPlainText()``, no-break spaces
    and line separators stay what they are; paragraph ends are ``\n``."""
    return document.toRawText().replace("\u2029", "\n")


def _all_in_bmp(text: str) -> bool:
    return text.isascii() or max(text, default="\0") < "\U00010000"


def index_from_qt(text: str, position: int) -> int:
    """The ``str`` index of a Qt document position in ``text``."""
    position = max(0, position)
    if _all_in_bmp(text):
        return min(position, len(text))
    units = text.encode("utf-16-le")[: 2 * position]
    return len(units.decode("utf-16-le", errors="ignore"))


def qt_from_index(text: str, index: int) -> int:
    """The Qt document position of ``str`` index ``index`` in ``text``."""
    index = max(0, min(index, len(text)))
    if _all_in_bmp(text):
        return index
    return len(text[:index].encode("utf-16-le")) // 2
