"""The assets of the open project as a Qt list model, for the asset browser.

A project can hold tens of thousands of assets, so :class:`AssetListModel` never loads them
all. It shows the newest first, one page at a time (``canFetchMore``/``fetchMore``, which views
call as the user scrolls), and reads each page on a worker thread: a search over text content
can take tens of milliseconds, which the GUI thread must not spend. Thumbnails and the second
line of each item (first line of a text, duration of a sound, size of an image) are made by
:class:`AssetPreviewLoader` on worker threads too, and only for the rows a view asks to paint.

Threads: workers never touch the model. They emit signals of small relay objects, which are
connected to slots of the model and the loader; both live in the GUI thread, so the slots run
there (queued connections).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRectF,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from studio.core.durations import format_duration, format_size
from studio.core.errors import UserError
from studio.core.project import (
    Asset,
    AssetNotFoundError,
    DamagedProjectError,
    ProjectClosedError,
    ProjectStore,
)
from studio.core.project.assets import TEXT_KINDS
from studio.plugin_api.kinds import AssetKind
from studio.qt.asset_drag import ASSET_MIME_TYPE, asset_mime_data
from studio.qt.project_session import ProjectSession

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 200
DEFAULT_THUMBNAIL_SIZE = 128
"""Pixels of the longest side of a thumbnail: sharp at 64 logical pixels on a 2x screen."""

KIND_LABELS: dict[AssetKind, str] = {
    AssetKind.TEXT: "Text",
    AssetKind.IMAGE: "Image",
    AssetKind.AUDIO: "Audio",
    AssetKind.CAPTION: "Caption",
    AssetKind.DOCUMENT: "Document",
}

_KIND_COLOURS: dict[AssetKind, str] = {
    AssetKind.TEXT: "#4e79a7",
    AssetKind.IMAGE: "#59a14f",
    AssetKind.AUDIO: "#e8842a",
    AssetKind.CAPTION: "#9c6b98",
    AssetKind.DOCUMENT: "#c0504d",
}

_SUBTITLE_LIMIT = 120
_IDS_PER_QUERY = 500  # SQLite allows a limited number of parameters per statement
_TEXT_PREVIEW_BYTES = 16 * 1024


class AssetRole(IntEnum):
    """Data roles of :class:`AssetListModel` besides Qt's display, edit, decoration and
    tool tip roles (display and edit give the title, decoration the thumbnail or kind icon)."""

    ID = Qt.ItemDataRole.UserRole + 1
    KIND = Qt.ItemDataRole.UserRole + 2
    TITLE = Qt.ItemDataRole.UserRole + 3
    SUBTITLE = Qt.ItemDataRole.UserRole + 4
    ASSET = Qt.ItemDataRole.UserRole + 5


def yield_cpu_to_gui() -> None:
    """Run the calling worker thread at a lower priority, where the system allows it.

    Previews and queries are background work: when cores are scarce, the GUI thread should get
    them first. Linux sets the nice value of a single thread by its thread id; elsewhere this
    does nothing.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


# Previews -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetPreview:
    """What a browser shows of an asset's content, made off the GUI thread.

    Attributes:
        image: a thumbnail (images only), at most the thumbnail size on its longest side.
        subtitle: one line: the first line of a text, "0:42" for a sound, "512×512" for an
            image; empty when there is nothing to say.
    """

    image: QImage | None
    subtitle: str


def make_preview(kind: AssetKind, data: bytes, thumbnail_size: int) -> AssetPreview:
    """The preview of an asset's content (any thread; no GUI objects are made).

    Content that cannot be decoded gives a preview without a thumbnail that says so.
    """
    if kind in TEXT_KINDS:
        return AssetPreview(None, first_line(data))
    if kind is AssetKind.AUDIO:
        import soundfile  # with numpy about 0.25 s: not at start-up, and only in a worker

        try:
            info = soundfile.info(io.BytesIO(data))
        except (RuntimeError, TypeError, ValueError):  # libsndfile errors are RuntimeErrors
            return AssetPreview(None, "unreadable sound")
        return AssetPreview(None, format_duration(info.frames / info.samplerate))
    from PIL import Image  # not at start-up, like every media library

    try:
        return _image_preview(data, thumbnail_size)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        # Pillow raises these for broken or hostile files; the list must go on regardless.
        return AssetPreview(None, "unreadable image")


def first_line(data: bytes) -> str:
    """The first non-blank line of a UTF-8 text, with its spaces tidied and shortened."""
    text = data[:_TEXT_PREVIEW_BYTES].decode("utf-8", errors="ignore")
    for line in text.splitlines():
        tidy = " ".join(line.split())
        if tidy:
            return tidy if len(tidy) <= _SUBTITLE_LIMIT else tidy[: _SUBTITLE_LIMIT - 1] + "…"
    return ""


def _image_preview(data: bytes, thumbnail_size: int) -> AssetPreview:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        orientation = 1
        with contextlib.suppress(Exception):  # EXIF that cannot be read: shown as stored
            orientation = image.getexif().get(0x0112, 1)  # phones rotate by tag
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        # draft() lets JPEG decode at 1/2, 1/4 or 1/8 size: far less work for big photos.
        image.draft("RGB", (thumbnail_size, thumbnail_size))
        if image.mode == "I" or image.mode.startswith("I;16"):
            # 16-bit greys (scans, depth maps) can be neither reduced nor made RGBA: 8 bits.
            image = image.convert("I").point(lambda value: value / 256).convert("L")
        image.thumbnail((thumbnail_size, thumbnail_size))
        small = image.convert("RGBA")
        with contextlib.suppress(Exception):
            small = ImageOps.exif_transpose(small)
    pixels = small.tobytes()
    thumbnail = QImage(
        pixels, small.width, small.height, small.width * 4, QImage.Format.Format_RGBA8888
    ).copy()  # copy(): the QImage must own its pixels once ``pixels`` goes away
    return AssetPreview(thumbnail, f"{width}×{height}")


@dataclass(frozen=True)
class CachedPreview:
    """A preview as the GUI thread keeps it (the thumbnail as a pixmap, ready to paint)."""

    pixmap: QPixmap | None
    subtitle: str


class _PreviewRelay(QObject):
    """Carries finished previews from worker threads to the loader in the GUI thread.

    Deliberately without a parent: the workers hold it too, so it outlives a loader that is
    deleted while a preview is being made, and a late emit never reaches a deleted object.
    """

    finished = Signal(str, object)  # sha256, AssetPreview (None: not made, do not cache)


def _make_preview_in_worker(
    relay: _PreviewRelay, store: ProjectStore, asset: Asset, thumbnail_size: int
) -> None:
    try:
        preview: AssetPreview | None = make_preview(
            asset.kind, store.read_blob(asset.id), thumbnail_size
        )
    except ProjectClosedError:
        preview = None  # the project was replaced; the model reloads and asks again
    except AssetNotFoundError:
        preview = AssetPreview(None, "")  # purged meanwhile: nothing to show, do not retry
    except Exception:
        log.exception("Cannot make the preview of asset %s", asset.id)
        preview = AssetPreview(None, "")
    with contextlib.suppress(RuntimeError):  # the relay is gone: the application is ending
        relay.finished.emit(asset.sha256, preview)


class AssetPreviewLoader(QObject):
    """Makes previews on worker threads, newest request first, and keeps the recent ones.

    Previews are keyed by content (SHA-256), so assets that share content share a preview,
    and a preview stays right across renames and project changes. Requests wait in a
    last-in-first-out queue of bounded length: when the user scrolls fast, the rows they
    scrolled past are dropped instead of being decoded before the rows now on screen.

    Signals:
        preview_ready(sha256): a preview is now in the cache.
    """

    preview_ready = Signal(str)

    def __init__(
        self,
        *,
        thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE,
        cache_size: int = 500,
        workers: int | None = None,
        max_waiting: int = 256,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.thumbnail_size = thumbnail_size
        self.made = 0
        """How many previews were made (tests and measurements use it)."""
        self._cache_size = cache_size
        # Decoding competes with the GUI thread for cores: one worker on a 2-core machine.
        self._workers = workers or max(1, min(2, (os.cpu_count() or 1) - 1))
        self._max_waiting = max_waiting
        self._cache: OrderedDict[str, CachedPreview] = OrderedDict()
        self._waiting: OrderedDict[str, tuple[ProjectStore, Asset]] = OrderedDict()
        self._running: set[str] = set()
        self._executor = ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="previews", initializer=yield_cpu_to_gui
        )
        self._relay = _PreviewRelay()
        self._relay.finished.connect(self._on_finished)
        self._shut_down = False

    def cached(self, sha256: str) -> CachedPreview | None:
        """The preview of this content if it is made (and marks it recently used)."""
        shown = self._cache.get(sha256)
        if shown is not None:
            self._cache.move_to_end(sha256)
        return shown

    def request(self, store: ProjectStore, asset: Asset) -> list[str]:
        """Ask for the preview of ``asset``; returns the contents whose requests were dropped
        to keep the queue short (their rows were not painted for a while)."""
        sha256 = asset.sha256
        if self._shut_down or sha256 in self._cache or sha256 in self._running:
            return []
        self._waiting[sha256] = (store, asset)
        self._waiting.move_to_end(sha256)  # asked again: it is on screen now, so it goes first
        dropped = []
        while len(self._waiting) > self._max_waiting:
            oldest, _ = self._waiting.popitem(last=False)
            dropped.append(oldest)
        self._start_waiting()
        return dropped

    def discard_waiting(self) -> None:
        """Forget the requests not started yet (the rows that asked are gone)."""
        self._waiting.clear()

    def shutdown(self) -> None:
        """Stop making previews; running ones finish on their own and are ignored."""
        self._shut_down = True
        self._waiting.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _start_waiting(self) -> None:
        while self._waiting and len(self._running) < self._workers:
            sha256, (store, asset) = self._waiting.popitem(last=True)
            self._running.add(sha256)
            self._executor.submit(
                _make_preview_in_worker, self._relay, store, asset, self.thumbnail_size
            )

    @Slot(str, object)
    def _on_finished(self, sha256: str, preview: AssetPreview | None) -> None:
        self._running.discard(sha256)
        if self._shut_down:
            return
        if preview is not None:
            self.made += 1
            pixmap = None if preview.image is None else QPixmap.fromImage(preview.image)
            self._cache[sha256] = CachedPreview(pixmap, preview.subtitle)
            self._cache.move_to_end(sha256)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            self.preview_ready.emit(sha256)
        self._start_waiting()


# Kind icons ------------------------------------------------------------------------------------


def draw_kind_icon(kind: AssetKind, size: int) -> QPixmap:
    """A square icon for a kind (shapes only, so it looks the same with any font)."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = size / 16
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(_KIND_COLOURS[kind]))
    painter.drawRoundedRect(QRectF(unit, unit, 14 * unit, 14 * unit), 2.5 * unit, 2.5 * unit)
    white = QColor("white")
    pen = QPen(white, 1.2 * unit)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    if kind is AssetKind.TEXT:  # a page of lines
        painter.setPen(pen)
        for row, length in enumerate((9, 9, 9, 6)):
            y = (4.5 + 2.3 * row) * unit
            painter.drawLine(QPointF(3.5 * unit, y), QPointF((3.5 + length) * unit, y))
    elif kind is AssetKind.DOCUMENT:  # a sheet with a folded corner, written on
        sheet = QPolygonF(
            [
                QPointF(4 * unit, 3 * unit),
                QPointF(9.5 * unit, 3 * unit),
                QPointF(12 * unit, 5.5 * unit),
                QPointF(12 * unit, 13 * unit),
                QPointF(4 * unit, 13 * unit),
            ]
        )
        painter.setBrush(white)
        painter.drawPolygon(sheet)
        lines = QPen(QColor(_KIND_COLOURS[kind]), 1.0 * unit)
        lines.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(lines)
        for row, length in enumerate((4, 6, 6, 4)):
            y = (6 + 1.9 * row) * unit
            painter.drawLine(QPointF(5.5 * unit, y), QPointF((5.5 + length) * unit, y))
    elif kind is AssetKind.CAPTION:  # a speech bubble
        bubble = QPainterPath()
        bubble.addRoundedRect(QRectF(3 * unit, 3.5 * unit, 10 * unit, 7 * unit), unit, unit)
        tail = QPolygonF(
            [
                QPointF(5 * unit, 10 * unit),
                QPointF(5 * unit, 13 * unit),
                QPointF(8 * unit, 10 * unit),
            ]
        )
        bubble.addPolygon(tail)
        painter.setBrush(white)
        painter.drawPath(bubble.simplified())
    elif kind is AssetKind.AUDIO:  # a waveform
        painter.setPen(pen)
        for column, height in enumerate((2, 5, 8, 4, 7, 3, 1)):
            x = (4 + 1.35 * column) * unit
            painter.drawLine(
                QPointF(x, (8 - height / 2) * unit), QPointF(x, (8 + height / 2) * unit)
            )
    else:  # a landscape with a sun
        painter.setBrush(white)
        painter.drawEllipse(QPointF(10.5 * unit, 5.5 * unit), 1.5 * unit, 1.5 * unit)
        painter.drawPolygon(
            QPolygonF(
                [
                    QPointF(3 * unit, 12.5 * unit),
                    QPointF(6.5 * unit, 7 * unit),
                    QPointF(9 * unit, 10.5 * unit),
                    QPointF(10.5 * unit, 9 * unit),
                    QPointF(13 * unit, 12.5 * unit),
                ]
            )
        )
    painter.end()
    return QPixmap.fromImage(image)


# The model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    """What the query thread read: a page of assets, and the total when it was asked for.

    ``assets`` is None when nothing could be read: ``closed`` says whether the project was
    closed meanwhile (normal: another project follows) or reading failed.
    """

    assets: list[Asset] | None
    total: int | None = None
    closed: bool = False


class _QueryRelay(QObject):
    """Carries query results from the query thread to the model in the GUI thread."""

    page_loaded = Signal(int, object)  # generation, _Page
    count_loaded = Signal(int, int)  # generation, total


def _load_page_in_worker(
    relay: _QueryRelay,
    generation: int,
    store: ProjectStore,
    kind: AssetKind | None,
    search: str,
    offset: int,
    limit: int,
    with_count: bool,
) -> None:
    try:
        assets = store.list_assets(kind=kind, search=search, limit=limit, offset=offset)
        total = store.count_assets(kind=kind, search=search) if with_count else None
        page = _Page(assets, total)
    except ProjectClosedError:
        page = _Page(None, closed=True)
    except DamagedProjectError as exc:  # the window offers the repair
        log.warning("Cannot list the assets: %s", exc)
        page = _Page(None)
    except Exception:
        log.exception("Cannot list the assets of %s", store)
        page = _Page(None)
    with contextlib.suppress(RuntimeError):  # the relay is gone: the application is ending
        relay.page_loaded.emit(generation, page)


def _count_in_worker(
    relay: _QueryRelay, generation: int, store: ProjectStore, kind: AssetKind | None, search: str
) -> None:
    try:
        total = store.count_assets(kind=kind, search=search)
    except Exception:  # the count is only for show; a closed project reloads anyway
        log.debug("Cannot count the assets of %s", store, exc_info=True)
        return
    with contextlib.suppress(RuntimeError):
        relay.count_loaded.emit(generation, total)


_ROOT = QModelIndex()  # the invisible root of a list model (an immutable value)


def _newest_first_key(asset: Asset) -> tuple:
    return (asset.created_at, asset.id)


class AssetListModel(QAbstractListModel):
    """The live assets of the session's project, newest first, a page at a time.

    Filter with :meth:`set_filter` (a kind and search words; the store matches titles, request
    text, and the content of texts and captions). The model follows the session: a new asset
    appears at the top, a renamed one changes, deleted ones go and come back on undo, and
    another project reloads everything. Renaming through the edit role goes through the
    session's undo stack.

    Signals:
        loading_changed(loading): the first page of a (re)load is being read, or has arrived.
        count_changed(total): how many assets match the filter (loaded or not).
        query_failed(message): reading the project failed (the error is in the log).
        rename_failed(message): a rename was refused (an empty title, a read-only project).
    """

    loading_changed = Signal(bool)
    count_changed = Signal(int)
    query_failed = Signal(str)
    rename_failed = Signal(str)

    def __init__(
        self,
        session: ProjectSession,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE,
        preview_cache_size: int = 500,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._page_size = page_size
        self._kind: AssetKind | None = None
        self._search = ""
        self._rows: list[Asset] = []
        self._row_ids: set[str] = set()
        self._total = 0
        self._generation = 0
        self._fetching: Future | None = None
        self._fetching_first = False
        self._page_stale = False
        self._exhausted = False
        self._shut_down = False
        self._queries = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="asset-queries", initializer=yield_cpu_to_gui
        )
        self._relay = _QueryRelay()
        self._relay.page_loaded.connect(self._on_page_loaded)
        self._relay.count_loaded.connect(self._on_count_loaded)
        self.previews = AssetPreviewLoader(
            thumbnail_size=thumbnail_size, cache_size=preview_cache_size, parent=self
        )
        self.previews.preview_ready.connect(self._on_preview_ready)
        self._awaiting_preview: dict[str, list[QPersistentModelIndex]] = {}
        self._kind_icons: dict[AssetKind, QPixmap] = {}
        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.setInterval(150)  # one count after a burst of changes
        self._recount_timer.timeout.connect(self._recount)
        session.project_changed.connect(self.reload)
        session.asset_added.connect(self._on_asset_added)
        session.asset_changed.connect(self._on_asset_changed)
        session.assets_removed.connect(self._on_assets_removed)
        session.assets_restored.connect(self._on_assets_restored)
        self.reload()

    # State ------------------------------------------------------------------------------------

    @property
    def session(self) -> ProjectSession:
        return self._session

    @property
    def kind(self) -> AssetKind | None:
        return self._kind

    @property
    def search(self) -> str:
        return self._search

    @property
    def total(self) -> int:
        """How many assets match the filter (as last counted), loaded or not."""
        return self._total

    @property
    def fetching(self) -> bool:
        """True while a page is being read."""
        return self._fetching is not None

    @property
    def loading(self) -> bool:
        """True while the first page after a (re)load is being read."""
        return self._fetching is not None and self._fetching_first

    def asset(self, row: int) -> Asset:
        return self._rows[row]

    def kind_icon(self, kind: AssetKind) -> QPixmap:
        icon = self._kind_icons.get(kind)
        if icon is None:
            icon = self._kind_icons[kind] = draw_kind_icon(kind, self.previews.thumbnail_size)
        return icon

    # Filtering and loading ---------------------------------------------------------------------

    def set_filter(self, kind: AssetKind | None = None, search: str = "") -> None:
        """Show only assets of ``kind`` (None: all) that match every word of ``search``."""
        kind = None if kind is None else AssetKind(kind)
        search = " ".join(search.split())
        if (kind, search) != (self._kind, self._search):
            self._kind, self._search = kind, search
            self.reload()

    @Slot()
    def reload(self) -> None:
        """Forget the loaded rows and read the first page again (in the background)."""
        if self._shut_down:
            return
        self._generation += 1  # results of earlier queries are ignored from now on
        if self._fetching is not None:
            self._fetching.cancel()
            self._fetching = None
        self.beginResetModel()
        self._rows, self._row_ids = [], set()
        self._exhausted = False
        self._awaiting_preview.clear()
        self.endResetModel()
        self.previews.discard_waiting()
        self._request_page(first=True)
        self.loading_changed.emit(True)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> bool:
        # One page at a time: while a page is on its way there is nothing more to ask for.
        return not parent.isValid() and self._fetching is None and not self._exhausted

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> None:
        if self.canFetchMore(parent):
            self._request_page(first=False)

    def _request_page(self, *, first: bool) -> None:
        self._fetching = self._queries.submit(
            _load_page_in_worker,
            self._relay,
            self._generation,
            self._session.store,
            self._kind,
            self._search,
            len(self._rows),
            self._page_size,
            first,
        )
        self._fetching_first = first
        self._page_stale = False

    @Slot(int, object)
    def _on_page_loaded(self, generation: int, page: _Page) -> None:
        if generation != self._generation or self._shut_down:
            return
        first = self._fetching_first
        self._fetching = None
        if page.closed:
            pass  # the project was closed while it was read: another one reloads the model
        elif page.assets is None:
            self._exhausted = True
            self.query_failed.emit("The project's assets cannot be read; see the log.")
        elif self._page_stale:
            # Rows were removed or inserted in the middle while this page was read, so its
            # offset may have skipped an asset: read it again from the current end.
            self._request_page(first=first)
            return
        else:
            # A new asset committed while the page was read shifts the page by one: the
            # assets already shown are dropped here rather than shown twice.
            fresh = [asset for asset in page.assets if asset.id not in self._row_ids]
            if fresh:
                start = len(self._rows)
                self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
                self._rows.extend(fresh)
                self._row_ids.update(asset.id for asset in fresh)
                self.endInsertRows()
            self._exhausted = len(page.assets) < self._page_size
            if page.total is not None:
                self._set_total(page.total)
        if first:
            self.loading_changed.emit(False)

    def _set_total(self, total: int) -> None:
        if total != self._total:
            self._total = total
            self.count_changed.emit(total)

    @Slot()
    def _recount(self) -> None:
        if not self._shut_down:
            self._queries.submit(
                _count_in_worker,
                self._relay,
                self._generation,
                self._session.store,
                self._kind,
                self._search,
            )

    @Slot(int, int)
    def _on_count_loaded(self, generation: int, total: int) -> None:
        if generation == self._generation and not self._shut_down:
            self._set_total(total)

    # Following the session ---------------------------------------------------------------------

    @Slot(str)
    def _on_asset_added(self, asset_id: str) -> None:
        self._refresh([asset_id])

    @Slot(str)
    def _on_asset_changed(self, asset_id: str) -> None:
        self._refresh([asset_id])

    @Slot(list)
    def _on_assets_restored(self, asset_ids: list) -> None:
        self._refresh(asset_ids)

    @Slot(list)
    def _on_assets_removed(self, asset_ids: list) -> None:
        self._remove_rows(set(asset_ids))
        self._recount_timer.start()

    def _refresh(self, asset_ids: Sequence[str]) -> None:
        """Bring these assets' rows in line with the store: update, insert or remove."""
        if self._shut_down or not asset_ids:
            return
        asset_ids = list(asset_ids)
        try:
            # A look-up by id, so it stays quick with a search (the words are matched
            # against these few assets only).
            matching = {
                asset.id: asset
                for start in range(0, len(asset_ids), _IDS_PER_QUERY)
                for asset in self._session.store.list_assets(
                    kind=self._kind,
                    search=self._search,
                    ids=asset_ids[start : start + _IDS_PER_QUERY],
                )
            }
        except ProjectClosedError:
            return  # project_changed follows and reloads
        wanted = set(asset_ids) & self._row_ids
        loaded = {a.id: row for row, a in enumerate(self._rows) if a.id in wanted} if wanted else {}
        gone = []
        for asset_id, row in loaded.items():
            asset = matching.get(asset_id)
            if asset is None:  # no longer matches the filter (or was deleted meanwhile)
                gone.append(asset_id)
            else:
                self._rows[row] = asset
                index = self.index(row)
                self.dataChanged.emit(index, index)
        self._remove_rows(gone)
        for asset in matching.values():
            if asset.id not in loaded:
                self._insert_in_order(asset)
        self._recount_timer.start()

    def _insert_in_order(self, asset: Asset) -> None:
        key = _newest_first_key(asset)
        low, high = 0, len(self._rows)
        while low < high:  # the rows are sorted newest first
            middle = (low + high) // 2
            if _newest_first_key(self._rows[middle]) > key:
                low = middle + 1
            else:
                high = middle
        if low == len(self._rows) and not self._exhausted:
            # Older than every loaded row: a later page brings it. A page on its way may have
            # been read before this asset was committed, so that page is read again.
            if self._fetching is not None:
                self._page_stale = True
            return
        if low > 0 and self._fetching is not None:
            self._page_stale = True
        self.beginInsertRows(QModelIndex(), low, low)
        self._rows.insert(low, asset)
        self._row_ids.add(asset.id)
        self.endInsertRows()

    def _remove_rows(self, asset_ids: Iterable[str]) -> None:
        asset_ids = set(asset_ids) & self._row_ids
        if not asset_ids:
            return
        if self._fetching is not None:
            self._page_stale = True
        rows = [row for row, asset in enumerate(self._rows) if asset.id in asset_ids]
        # Remove runs of neighbouring rows from the bottom up, so earlier rows keep their place.
        runs: list[list[int]] = []
        for row in rows:
            if runs and runs[-1][1] == row - 1:
                runs[-1][1] = row
            else:
                runs.append([row, row])
        for first, last in reversed(runs):
            self.beginRemoveRows(QModelIndex(), first, last)
            self._row_ids.difference_update(asset.id for asset in self._rows[first : last + 1])
            del self._rows[first : last + 1]
            self.endRemoveRows()

    # Qt model interface -----------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )
        if not self._session.store.read_only:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:
        return [ASSET_MIME_TYPE]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """Dragged assets: ids and kinds (see :mod:`studio.qt.asset_drag`), titles as text."""
        rows = sorted({index.row() for index in indexes if index.isValid()})
        assets = [self._rows[row] for row in rows if 0 <= row < len(self._rows)]
        return asset_mime_data(
            str(self._session.path or ""),
            [asset.id for asset in assets],
            [str(asset.kind) for asset in assets],
            [asset.title for asset in assets],
        )

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        asset = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, AssetRole.TITLE):
            return asset.title
        if role == AssetRole.ID:
            return asset.id
        if role == AssetRole.KIND:
            return asset.kind.value
        if role == AssetRole.ASSET:
            return asset
        if role == Qt.ItemDataRole.DecorationRole:
            shown = self._preview_of(index, asset)
            if shown is not None and shown.pixmap is not None:
                return shown.pixmap
            return self.kind_icon(asset.kind)
        if role == AssetRole.SUBTITLE:
            shown = self._preview_of(index, asset)
            return "" if shown is None else shown.subtitle
        if role == Qt.ItemDataRole.ToolTipRole:
            created = asset.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            return (
                f"{asset.title}\n{KIND_LABELS[asset.kind]} · {created} · {format_size(asset.size)}"
            )
        return None

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value: object,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        try:
            # Through the session, so that Edit > Undo can take the rename back; the session
            # announces the change and _refresh updates the row.
            self._session.rename(self._rows[index.row()].id, str(value))
        except UserError as exc:
            self.rename_failed.emit(str(exc))
            return False
        return True

    # Previews ----------------------------------------------------------------------------------

    def _preview_of(
        self, index: QModelIndex | QPersistentModelIndex, asset: Asset
    ) -> CachedPreview | None:
        shown = self.previews.cached(asset.sha256)
        if shown is None:
            # A view asks for data only for rows it paints, so only visible rows get here.
            waiting = self._awaiting_preview.setdefault(asset.sha256, [])
            if not any(persistent.row() == index.row() for persistent in waiting):
                waiting.append(QPersistentModelIndex(index))
            for dropped in self.previews.request(self._session.store, asset):
                self._awaiting_preview.pop(dropped, None)
        return shown

    @Slot(str)
    def _on_preview_ready(self, sha256: str) -> None:
        for persistent in self._awaiting_preview.pop(sha256, []):
            if persistent.isValid():
                index = self.index(persistent.row())
                self.dataChanged.emit(
                    index, index, [Qt.ItemDataRole.DecorationRole, AssetRole.SUBTITLE]
                )

    # Ending ------------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the worker threads (call when the window closes); the model stays as it is."""
        if self._shut_down:
            return
        self._shut_down = True
        self._recount_timer.stop()
        if self._fetching is not None:
            self._fetching.cancel()
        self._queries.shutdown(wait=False, cancel_futures=True)
        self.previews.shutdown()
