"""Asset titles that can be told apart: one line, short, cut at a word boundary.

A title says what an asset is and how it differs from its siblings: the prompt and the seed
("Lighthouse at dusk · seed 1234"), the model and setting ("Upscaled ×2 · waifu2x CUnet (light
denoise) · photo.png"), the voice ("“The lighthouse keeper climbed the…” · Hibari heart").
Parts are joined with :data:`SEPARATOR`; a title longer than :data:`TITLE_LIMIT` characters is
shortened at word boundaries with "…", the longest parts first, so that the short distinguishing
parts (the seed, the model) survive a long prompt.

Plugins use these helpers for the titles they give their :class:`~studio.plugin_api.GeneratedAsset`;
Studio shortens any title it is given the same way and adds what only it knows (a re-run).
"""

from __future__ import annotations

from studio.plugin_api.requests import InputMedia

SEPARATOR = " · "
"""Between the parts of a title."""
TITLE_LIMIT = 80
"""The most characters a title has."""
ELLIPSIS = "…"
OPEN_QUOTE, CLOSE_QUOTE = "“", "”"

# Left at the end of a shortened text they read badly before the ellipsis ("the sea,…").
_TRAILING = " ,;:.-–—·"


def one_line(text: str) -> str:
    """``text`` on one line: every run of white space (new lines too) one space, none at the
    ends."""
    return " ".join(str(text).split())


def shorten(text: str, limit: int = TITLE_LIMIT) -> str:
    """``text`` on one line and at most ``limit`` characters: cut after the last whole word
    that fits, with "…" (a single word longer than half the room is cut inside it)."""
    line = one_line(text)
    if len(line) <= limit:
        return line
    if limit <= 1:
        return ELLIPSIS[:limit]
    room = limit - len(ELLIPSIS)
    head = line[:room]
    if line[room] != " ":  # the cut falls inside a word: end at the word before it
        space = head.rfind(" ")
        if space >= room // 2:
            head = head[:space]
    head = head.rstrip(_TRAILING) or line[:room]
    return head + ELLIPSIS


def quote(text: str, limit: int = TITLE_LIMIT) -> str:
    """``text`` in quotation marks, shortened inside them: “The lighthouse keeper climbed…”."""
    return f"{OPEN_QUOTE}{shorten(text, max(1, limit - 2))}{CLOSE_QUOTE}"


def _is_quoted(part: str) -> bool:
    return len(part) >= 2 and part.startswith(OPEN_QUOTE) and part.endswith(CLOSE_QUOTE)


def _shorten_part(part: str, limit: int) -> str:
    if _is_quoted(part):
        return quote(part[1:-1], limit)
    return shorten(part, limit)


def _fair_cap(lengths: list[int], room: int) -> int:
    """The largest length ``cap`` for which the parts, each cut to ``cap``, fit in ``room``."""
    cap = 0
    for candidate in range(1, max(lengths) + 1):
        if sum(min(length, candidate) for length in lengths) > room:
            break
        cap = candidate
    return max(cap, 1)


def join_title(*parts: str, limit: int = TITLE_LIMIT) -> str:
    """The non-empty ``parts`` joined with :data:`SEPARATOR`, at most ``limit`` characters:
    when too long, the longest parts are shortened (a quoted part inside its quotes) until the
    whole fits, so a long prompt gives way before "seed 1234" does."""
    items = [line for line in (one_line(part) for part in parts) if line]
    if not items:
        return ""
    room = limit - len(SEPARATOR) * (len(items) - 1)
    lengths = [len(item) for item in items]
    if sum(lengths) > room:
        cap = _fair_cap(lengths, room)
        items = [_shorten_part(item, cap) if len(item) > cap else item for item in items]
    return SEPARATOR.join(items)


def input_name(item: InputMedia) -> str:
    """How a title names an input: a file by its name (``photo.png``), a project asset by its
    title (Studio names the file it writes for the plugin after the asset's title)."""
    return item.path.stem if item.asset_id else item.path.name
