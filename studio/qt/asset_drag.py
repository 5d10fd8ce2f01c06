"""What a drag carries: files from a file manager (:func:`local_paths`), or assets dragged out of
the asset browser onto a panel (the MIME data both ends agree on).

A drag carries the project's path and the asset ids as JSON under :data:`ASSET_MIME_TYPE`, so a
drop can check the assets come from the project that is open (and record them as lineage). It
carries no plain text on purpose: text editors would paste it instead of the panel taking the
assets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMimeData

ASSET_MIME_TYPE = "application/x-studio-assets"


@dataclass(frozen=True)
class DraggedAssets:
    project: str
    asset_ids: tuple[str, ...]
    kinds: tuple[str, ...]


def asset_mime_data(
    project: str, asset_ids: Sequence[str], kinds: Sequence[str], titles: Sequence[str]
) -> QMimeData:
    mime = QMimeData()
    payload = {"project": project, "assets": list(asset_ids), "kinds": list(kinds)}
    payload["titles"] = list(titles)
    mime.setData(ASSET_MIME_TYPE, json.dumps(payload).encode())
    return mime


def dragged_assets(mime: QMimeData) -> DraggedAssets | None:
    """The assets a drag carries, or None when it carries none (or something malformed)."""
    if not mime.hasFormat(ASSET_MIME_TYPE):
        return None
    try:
        payload = json.loads(bytes(mime.data(ASSET_MIME_TYPE)).decode())
        ids = tuple(str(i) for i in payload["assets"])
        kinds = tuple(str(k) for k in payload.get("kinds", ()))
        project = str(payload.get("project", ""))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    if not ids or len(kinds) != len(ids):
        return None
    return DraggedAssets(project=project, asset_ids=ids, kinds=kinds)


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders a drag carries (none for other URLs or data)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
