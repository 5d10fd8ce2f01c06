"""Asset ids as people type them: in any case, and shortened to a unique prefix (as git does).

:func:`resolve_asset_id` is the one place that turns what someone typed into a full id; every
command that takes an asset id goes through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.core.errors import UserError
from studio.core.project.errors import AssetNotFoundError

if TYPE_CHECKING:
    from studio.core.project.store import ProjectStore

ASSET_ID_LENGTH = 26
MIN_PREFIX = 4
"""The fewest characters of an id that name an asset."""
SHOWN_WHEN_AMBIGUOUS = 3
"""How many of the matching ids an ambiguous prefix's error names."""


def resolve_asset_id(store: ProjectStore, text: str) -> str:
    """The full id of the one asset (in the trash or not) whose id starts with ``text``, in
    any case; ``text`` may be the whole id.

    Raises :class:`UserError` (one sentence) for a prefix shorter than :data:`MIN_PREFIX`
    characters or one that starts several ids, and
    :class:`~studio.core.project.errors.AssetNotFoundError` when no id starts with it.
    """
    typed = text.strip()
    prefix = typed.upper()
    if not prefix:
        raise UserError(f"Name an asset by its id (at least its first {MIN_PREFIX} characters).")
    if len(prefix) < MIN_PREFIX:
        raise UserError(
            f"'{typed}' is too short to name an asset: give at least the first {MIN_PREFIX} "
            "characters of its id."
        )
    if not (prefix.isascii() and prefix.isalnum()):
        raise AssetNotFoundError(f"No asset's id starts with {typed}.")
    # Ids are upper-case ASCII and the id column is the primary key: a range of it is the
    # ids that start with the prefix, read from the index.
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    with store._reader() as conn:
        found = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM assets WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                (prefix, after, SHOWN_WHEN_AMBIGUOUS + 1),
            )
        ]
        if len(found) > SHOWN_WHEN_AMBIGUOUS:
            count = conn.execute(
                "SELECT count(*) FROM assets WHERE id >= ? AND id < ?", (prefix, after)
            ).fetchone()[0]
        else:
            count = len(found)
    if not found:
        raise AssetNotFoundError(f"No asset's id starts with {typed}.")
    if count > 1:
        shown = found[:SHOWN_WHEN_AMBIGUOUS]
        more = f" (and {count - len(shown)} more)" if count > len(shown) else ""
        listed = ", ".join(shown[:-1]) + f" and {shown[-1]}"
        raise UserError(f"{typed} is ambiguous: it starts the ids {listed}{more}.")
    return found[0]
