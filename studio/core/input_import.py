"""A job's input files, checked and imported into the project while the job already runs.

Checking an input completely (a full decode, so that a truncated or hostile file is refused)
takes about as long as the plugin's own reading of it, and a panel used to do both one after
the other. Now the job gets the files at once, as provisional :class:`InputMedia` (kind and
type from their first bytes, no asset yet), while :class:`InputImport` checks and stores them on
a thread of its own. Its :meth:`~InputImport.sink` commits a result only once the import has
succeeded, with the lineage pointing at the stored inputs; when the import fails, nothing is
committed and :meth:`~InputImport.error` gives the message to show instead of whatever the
plugin made of the file.

A file whose first bytes name no media format we know (text, say, or one that is missing or
empty) is imported before the job starts instead, so its message comes at once, as before.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from studio.core.errors import UserError
from studio.core.generation import import_inputs
from studio.core.jobs import AssetSink, ProducedAsset
from studio.core.media.detect import sniff_format
from studio.core.project.store import ProjectStore
from studio.plugin_api import InputMedia

_HEAD_BYTES = 64

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="input-import")
        return _pool


def provisional_input(role: str, path: Path) -> InputMedia | None:
    """The input as a plugin may read it before it is checked, or None when its first bytes
    name no media format (the full check then has to come first)."""
    try:
        with open(path, "rb") as file:
            head = file.read(_HEAD_BYTES)
    except OSError:
        return None
    fmt = sniff_format(head)
    if fmt is None:
        return None
    return InputMedia(role=role, path=path, kind=fmt.kind, media_type=fmt.media_type)


class InputImport:
    """Input files on their way into ``store``; ``on_imported`` is called (on the import's
    thread) with each stored input's asset id.

    Raises :class:`UserError` at once when a file has to be checked before the job starts and
    fails that check.
    """

    def __init__(
        self,
        store: ProjectStore,
        inputs: Sequence[tuple[str, Path]],
        on_imported: Callable[[str], None] = lambda asset_id: None,
    ) -> None:
        self.files = tuple((role, Path(path)) for role, path in inputs)
        self._on_imported = on_imported
        provisional = [provisional_input(role, path) for role, path in self.files]
        if all(item is not None for item in provisional):
            self.provisional: tuple[InputMedia, ...] = tuple(provisional)  # type: ignore[arg-type]
            self._future = _executor().submit(self._import, store)
        else:
            self._future = Future()
            self._future.set_result(self._import(store))  # UserError goes to the caller
            self.provisional = self._future.result()

    def _import(self, store: ProjectStore) -> tuple[InputMedia, ...]:
        media = import_inputs(store, self.files)
        for item in media:
            if item.asset_id:
                self._on_imported(item.asset_id)
        return media

    # results ----------------------------------------------------------------------------------

    def result(self) -> tuple[InputMedia, ...]:
        """The stored inputs (waits for the import); raises its :class:`UserError`."""
        return self._future.result()

    def error(self) -> str | None:
        """The import's message when it failed (waits for it), else None."""
        try:
            self._future.result()
        except UserError as exc:
            return str(exc)
        except Exception as exc:
            return f"The input could not be imported: {exc}"
        return None

    def when_refused(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the import's thread, or now) if the import fails."""
        self._future.add_done_callback(lambda future: future.exception() and callback())

    def asset_id(self, role: str) -> str | None:
        """The stored asset of the input ``role``, once imported (None before, or if failed)."""
        if not self._future.done() or self._future.exception() is not None:
            return None
        return next((m.asset_id for m in self._future.result() if m.role == role), None)

    def sink(self, inner: AssetSink) -> AssetSink:
        """``inner``, committing only after the import succeeded, with its inputs as lineage."""

        def commit(produced: ProducedAsset) -> str:
            stored = {item.role: item for item in self.result()}
            request = produced.job.request
            inputs = tuple(stored.get(item.role, item) for item in request.inputs)
            job = dataclasses.replace(
                produced.job, request=dataclasses.replace(request, inputs=inputs)
            )
            return inner(dataclasses.replace(produced, job=job))

        return commit
