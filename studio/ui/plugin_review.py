"""What a plugin is and what it asks for, for people: the facts of an installed plugin and the
review of one about to be installed (see :mod:`studio.ui.plugins_dialog`)."""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from studio.core.durations import format_size
from studio.core.plugin_install import InstallReview, Requirement
from studio.plugin_api import Manifest


class Tone(StrEnum):
    PLAIN = "plain"
    WARN = "warn"  # worth a second look: network access, a conflict
    SAFE = "safe"  # contained: no network
    BAD = "bad"  # stops the install


# Explicit colours on both sides, so that they read in the light and in the dark theme.
_TONE_STYLES = {
    Tone.PLAIN: "",
    Tone.WARN: "QLabel { background: #fff1c2; color: #5b3b00; border: 1px solid #e0bd5a;"
    " border-radius: 3px; padding: 1px 6px; }",
    Tone.SAFE: "QLabel { background: #e3f4e6; color: #1d4d28; border: 1px solid #9fcfaa;"
    " border-radius: 3px; padding: 1px 6px; }",
    Tone.BAD: "QLabel { background: #fdecea; color: #7a1c1c; border: 1px solid #e0a0a0;"
    " border-radius: 3px; padding: 1px 6px; }",
}

_BADGE_CHARACTERS = 40
"""A toned value up to this long is a badge on one line; a longer one wraps in the column."""

NETWORK_YES = "May connect to the network"
NETWORK_BLOCKED = "No network: blocked if it tries"
NETWORK_UNDECLARED = "No network declared"


def panels_text(manifest: Manifest) -> str:
    return ", ".join(panel.value.title() for panel in manifest.panels)


def author_of(manifest: Manifest) -> str:
    return str(getattr(manifest, "author", "") or "")


def programs_of(manifest: Manifest) -> tuple[str, ...]:
    return tuple(getattr(manifest.needs, "programs", ()) or ())


def listed(values: tuple[str, ...] | list[str], none: str = "None") -> str:
    return ", ".join(values) if values else none


def needs_facts(manifest: Manifest, third_party: bool = True) -> list[tuple[str, str, Tone]]:
    """What a plugin declares it needs, as rows of (label, text, tone). A third-party plugin
    that does not declare the network runs with it blocked; a built-in one is only said not to
    use it."""
    needs = manifest.needs
    if needs.network:
        network = (NETWORK_YES, Tone.WARN)
    elif third_party:
        network = (NETWORK_BLOCKED, Tone.SAFE)
    else:
        network = (NETWORK_UNDECLARED, Tone.PLAIN)
    return [
        ("Network", *network),
        ("Programs", listed(programs_of(manifest)), Tone.PLAIN),
        ("Libraries", listed(needs.libraries), Tone.PLAIN),
        ("Files", listed(needs.files), Tone.PLAIN),
    ]


def requirement_text(requirement: Requirement) -> tuple[str, Tone]:
    """What installing does about one requirement."""
    version = f" {requirement.version}" if requirement.version else ""
    if requirement.state == "met":
        return f"Met by Studio's own packages{version and f' ({version.strip()})'}", Tone.PLAIN
    if requirement.state == "install":
        return f"To install{version} into its private folder", Tone.WARN
    why = requirement.why or "It cannot be met without changing Studio's own packages."
    return f"Conflict: {why}", Tone.BAD


def refusal(review: InstallReview) -> str:
    """Why ``review`` cannot be installed ("" when it can)."""
    if review.can_install:
        return ""
    reasons = " ".join(
        r.why or f"{r.text} cannot be met without changing Studio's own packages."
        for r in review.conflicts
    )
    return f"Cannot install: {reasons}"


class FactsGrid(QWidget):
    """Rows of "label  value" in two columns; values wrap, can be selected, and may carry a
    tone (network access, a conflict)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(4)
        self.grid.setColumnStretch(1, 1)
        self.values: dict[str, QLabel] = {}

    def set_rows(self, rows: list[tuple[str, str, Tone]]) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.values = {}
        for row, (label, text, tone) in enumerate(rows):
            name = QLabel(label)
            name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            name.setStyleSheet("QLabel { color: palette(placeholder-text); }")
            value = QLabel(text)
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setProperty("tone", tone.value)
            value.setStyleSheet(_TONE_STYLES[tone])
            alignment = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
            if tone is not Tone.PLAIN:
                name.setContentsMargins(0, 2, 0, 0)  # on the line of the badge's words
            self.grid.addWidget(name, row, 0, alignment)
            if tone is not Tone.PLAIN and len(text) <= _BADGE_CHARACTERS:
                # a short toned value is a badge, as wide as its words (a wrapping label
                # would be squeezed to its narrowest)
                self.grid.addWidget(value, row, 1, alignment)
            else:
                value.setWordWrap(True)
                self.grid.addWidget(value, row, 1)
            self.values[label] = value

    def label_width(self) -> int:
        """The width the label column wants (to line several grids up)."""
        widths = [
            item.widget().sizeHint().width()
            for index in range(self.grid.count())
            if (item := self.grid.itemAt(index)) is not None
            and item.widget() is not None
            and self.grid.getItemPosition(index)[1] == 0
        ]
        return max(widths, default=0)

    def value(self, label: str) -> str:
        """The text shown for ``label`` ("" when there is no such row)."""
        widget = self.values.get(label)
        return widget.text() if widget is not None else ""

    def tone(self, label: str) -> Tone | None:
        widget = self.values.get(label)
        return Tone(widget.property("tone")) if widget is not None else None


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    label.setContentsMargins(0, 8, 0, 0)
    return label


class ReviewView(QWidget):
    """The review of a plugin before anything of it runs: the manifest, what it declares it
    needs (the network first), the Python requirements and what installing does about each,
    and the version it replaces."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.replaces = QLabel()
        self.replaces.setWordWrap(True)
        self.replaces.setStyleSheet(_TONE_STYLES[Tone.WARN])
        self.plugin = FactsGrid()
        self.needs = FactsGrid()
        self.requirements = FactsGrid()
        self.requirements_note = QLabel()
        self.requirements_note.setWordWrap(True)

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 8, 0)
        column.addWidget(self.title)
        column.addWidget(self.summary)
        column.addWidget(self.replaces)
        column.addWidget(_heading("Plugin"))
        column.addWidget(self.plugin)
        column.addWidget(_heading("What it declares it needs"))
        column.addWidget(self.needs)
        column.addWidget(_heading("Python requirements"))
        column.addWidget(self.requirements)
        column.addWidget(self.requirements_note)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    def show_review(self, review: InstallReview) -> None:
        manifest = review.manifest
        self.title.setText(f"{manifest.name} {manifest.version}")
        self.summary.setText(
            "Read from its files: nothing of the plugin has run yet. "
            + (manifest.description or "")
        )
        self.replaces.setText(
            f"Replaces version {review.replaces}, installed now." if review.replaces else ""
        )
        self.replaces.setVisible(bool(review.replaces))
        author = review.author or author_of(manifest)
        self.plugin.set_rows(
            [
                ("Name", manifest.name, Tone.PLAIN),
                ("Id", manifest.id, Tone.PLAIN),
                ("Version", manifest.version, Tone.PLAIN),
                ("Author", author or "Not given", Tone.PLAIN),
                ("Licence", manifest.licence, Tone.PLAIN),
                ("Plugin API", str(manifest.api_version), Tone.PLAIN),
                ("Panels", panels_text(manifest), Tone.PLAIN),
                ("From", str(review.source), Tone.PLAIN),
                ("Size", f"{review.files} files, {format_size(review.size)}", Tone.PLAIN),
            ]
        )
        self.needs.set_rows(needs_facts(manifest))
        rows = [(r.text, *requirement_text(r)) for r in review.requirements]
        self.requirements.set_rows(rows)
        self.requirements.setVisible(bool(rows))
        added = len(review.to_install)
        if not review.requirements:
            note = "None: it asks for no Python packages."
        elif added:
            note = (
                f"Installing adds {added} package{'s' if added != 1 else ''} to a folder of this "
                "plugin's own, used by its model process only; Studio's own packages are not "
                "changed."
            )
        else:
            note = "Everything it needs is already in Studio; nothing else is installed."
        self.requirements_note.setText(note)
        self.requirements_note.setVisible(bool(note))
        # one label column for the manifest's facts and its needs (requirements, which can be
        # long, keep a column of their own)
        grids = (self.plugin, self.needs)
        width = max(grid.label_width() for grid in grids)
        for grid in grids:
            grid.grid.setColumnMinimumWidth(0, width)

    def requirement_lines(self) -> list[str]:
        """The requirement rows as shown: "requirement: what installing does"."""
        return [f"{text}: {label.text()}" for text, label in self.requirements.values.items()]
