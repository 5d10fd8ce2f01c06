"""The one way from what a user asked for to stored assets.

Every entry point builds a :class:`Draft`: a panel's Run, ``studio generate``, a recipe run
again, each image of a caption batch. The draft goes through :class:`JobPipeline`:

1. :meth:`JobPipeline.check`: the plugin serves the panel, the options are valid (completed,
   the seed chosen once), and the inputs fit the plugin's input slots: each file exists, is
   readable and not empty, and is the kind the slot takes; each project asset exists. It reads
   only the first bytes of each file and writes nothing; a problem is a :class:`UserError`.
2. :meth:`JobPipeline.prepare`: the input files' complete check starts on a thread of its own
   (the job gets the files at once and does not wait for it); project assets used as inputs
   are written to files for the plugin. Still nothing is written to the project.
3. The job runs on an executor (:mod:`studio.core.executor`): in this process, or in the
   panel's model process.
4. :meth:`PreparedJob.sink`: the one sink. The first result waits for the inputs' check; the
   inputs (content the project does not hold yet, under the import policy of
   :mod:`studio.core.media.importing`) and the result are committed in one transaction, with the
   recipe (:func:`recipe_for`). Later results reuse the stored inputs. A refused input commits
   nothing and ends the job with the input's message; so does a cancel before the first
   result. The project changes only when there is a result.
"""

from __future__ import annotations

import dataclasses
import difflib
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from studio.core.errors import UserError
from studio.core.executor import Executor
from studio.core.hashing import sha256_bytes
from studio.core.jobs import (
    Job,
    JobCancelled,
    JobEvent,
    JobOutcome,
    ProducedAsset,
    new_job_id,
)
from studio.core.media.detect import format_for_media_type, sniff_format
from studio.core.media.file_names import file_name_for
from studio.core.media.importing import (
    ImportRefusedError,
    MediaFile,
    existing_or_new,
    read_media_file,
)
from studio.core.project.assets import KIND_WORDS, TEXT_KINDS, Asset
from studio.core.project.errors import AssetNotFoundError
from studio.core.project.store import NewAsset, ProjectStore
from studio.core.recipe import Recipe, RecipeInput, RecipeOrigin, thaw_json
from studio.core.registry import PluginRegistry, PluginUnavailable
from studio.core.titles import result_title
from studio.plugin_api import (
    REQUEST_TYPE_FOR_PANEL,
    AssetKind,
    Cancelled,
    CancelToken,
    InputMedia,
    InputSlot,
    ModelPlugin,
    OptionError,
    Panel,
    Request,
)
from studio.plugin_api.images import file_problem

DEFAULT_INPUT_ROLE: dict[Panel, str] = {
    Panel.WRITING: "source",
    Panel.IMAGE: "init",
    Panel.VOICE: "reference",
    Panel.CAPTIONING: "image",
}
"""The role of an input given without one (``--input photo.png``)."""

ROLE_KINDS: dict[str, AssetKind] = {
    "init": AssetKind.IMAGE,
    "mask": AssetKind.IMAGE,
    "style": AssetKind.IMAGE,
    "image": AssetKind.IMAGE,
    "reference": AssetKind.AUDIO,
}
"""The kind each conventional role takes, for plugins that declare no input slots."""

_HEAD_BYTES = 64


@dataclass(frozen=True, kw_only=True)
class Draft:
    """What a user asked for, from whichever entry point: plain data.

    Attributes:
        plugin_id, panel: which plugin runs it, for which panel.
        fields: the request's text fields (prompt, text, question...).
        load_options, run_options: the options as the user set them (checked by
            :meth:`JobPipeline.check`; a ``seed`` of -1 becomes a random one there).
        device: ``auto``, ``cpu``, ``cuda[:n]`` or ``mps``.
        files: input files by role.
        assets: project assets used as inputs (by role), recorded as lineage.
        details: facts for every result's recipe (a preset's name, the document's revision).
    """

    plugin_id: str
    panel: Panel
    fields: Mapping[str, str] = field(default_factory=dict)
    load_options: Mapping[str, Any] = field(default_factory=dict)
    run_options: Mapping[str, Any] = field(default_factory=dict)
    device: str = "auto"
    files: tuple[tuple[str, Path], ...] = ()
    assets: tuple[RecipeInput, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    job_id: str = field(default_factory=new_job_id)


@dataclass(frozen=True, kw_only=True)
class CheckedDraft:
    """A draft that passed :meth:`JobPipeline.check`: its job (complete options, the inputs as
    the plugin will see them once prepared) and what is known of its files."""

    draft: Draft
    job: Job
    files: tuple[InputMedia, ...]
    checked_media: tuple[MediaFile | Asset, ...] | None = None
    """The files' complete check, when :meth:`JobPipeline.check` had to run it already (text,
    which no first bytes identify; every file when asked to check completely)."""


class ResultListener(Protocol):
    def __call__(self, committed: CommittedResult) -> None: ...


@dataclass(frozen=True)
class CommittedResult:
    """One result as the sink handled it: what the plugin made, the asset it became (None
    when results are not kept in a project), and the inputs stored with it."""

    produced: ProducedAsset
    asset_id: str | None
    new_input_ids: tuple[str, ...] = ()


class PreparedJob:
    """A job ready to run: give :attr:`job` to an executor with :meth:`sink` as its sink, and
    :meth:`close` it afterwards (its input files for the plugin go then)."""

    def __init__(
        self,
        job: Job,
        details: Mapping[str, Any],
        files: tuple[InputMedia, ...],
        media: Future[tuple[MediaFile | Asset, ...]],
        workdir: tempfile.TemporaryDirectory[str] | None,
    ) -> None:
        self.job = job
        self.details = dict(details)
        self._files = files
        self._media = media
        self._workdir = workdir

    @property
    def job_id(self) -> str:
        return self.job.job_id

    def input_error(self) -> str | None:
        """Why an input file was refused by its complete check (waits for it), or None."""
        try:
            self._media.result()
        except UserError as exc:
            return str(exc)
        except Exception as exc:
            return f"The input could not be read: {exc}"
        return None

    def when_input_refused(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the check's thread, or now) if an input file is refused, so
        that a running job stops at once."""
        self._media.add_done_callback(lambda done: done.exception() is not None and callback())

    @property
    def files(self) -> tuple[InputMedia, ...]:
        """The input files as the plugin gets them (in the draft's order)."""
        return self._files

    def media(self) -> tuple[MediaFile | Asset, ...]:
        """The input files after their complete check (waits): each checked file, or the
        asset that holds its content already; raises the check's :class:`UserError`."""
        return self._media.result()

    def sink(
        self, store: ProjectStore | None, listeners: Sequence[ResultListener] = ()
    ) -> ResultSink:
        """The sink that commits this job's results to ``store`` (None: results are only
        handed to ``listeners``, as caption sidecars without the project)."""
        return ResultSink(
            store, details=self.details, files=self._files, media=self._media, listeners=listeners
        )

    def close(self) -> None:
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


class ResultSink:
    """The one sink: commits each result with its recipe; the first one together with the
    input files it used, in one transaction. Thread-safe; returns the result's asset id.

    Made by :meth:`PreparedJob.sink`; a job whose inputs are all project assets already (made
    by hand, as tests do) can use one made with ``store`` and ``details`` alone.
    """

    def __init__(
        self,
        store: ProjectStore | None,
        *,
        details: Mapping[str, Any] | None = None,
        files: tuple[InputMedia, ...] = (),
        media: Future[tuple[MediaFile | Asset, ...]] | None = None,
        listeners: Sequence[ResultListener] = (),
    ) -> None:
        if media is None:
            media = Future()
            media.set_result(())
        self.store = store
        self.details = dict(details or {})
        self._files = files
        self._media = media
        self.listeners: list[ResultListener] = list(listeners)
        self._lock = threading.Lock()
        self._stored_inputs: dict[str, str] | None = None

    def add_listener(self, listener: ResultListener) -> None:
        """Tell ``listener`` of every result after it is committed (on the committing thread)."""
        self.listeners.append(listener)

    def __call__(self, produced: ProducedAsset) -> str:
        media = self._media.result()  # a refused input: its UserError, nothing committed
        with self._lock:
            new_inputs: list[NewAsset] = []
            if self._stored_inputs is None and self.store is not None:
                self._stored_inputs = {}
                for item, checked in zip(self._files, media, strict=True):
                    stored = (
                        checked
                        if isinstance(checked, Asset)
                        else existing_or_new(self.store, checked)
                    )
                    if isinstance(stored, NewAsset):
                        new_inputs.append(stored)
                    self._stored_inputs[item.role] = (
                        stored.asset_id if isinstance(stored, NewAsset) else stored.id
                    )
            produced = self._with_stored_inputs(produced)
            asset_id = None
            if self.store is not None:
                result = produced.asset
                stored_assets = self.store.add_assets(
                    [
                        *new_inputs,
                        NewAsset(
                            kind=result.kind,
                            data=result.data,
                            media_type=result.media_type,
                            recipe=recipe_for(produced, self.details),
                            title=result_title(produced, self.details, self.store),
                        ),
                    ]
                )
                asset_id = stored_assets[-1].id
        committed = CommittedResult(
            produced=produced,
            asset_id=asset_id,
            new_input_ids=tuple(item.asset_id for item in new_inputs),
        )
        for listener in self.listeners:
            listener(committed)
        return asset_id or ""

    def _with_stored_inputs(self, produced: ProducedAsset) -> ProducedAsset:
        stored = self._stored_inputs or {}
        request = produced.job.request
        inputs = tuple(
            dataclasses.replace(item, asset_id=stored[item.role])
            if item.asset_id is None and item.role in stored
            else item
            for item in request.inputs
        )
        job = dataclasses.replace(produced.job, request=dataclasses.replace(request, inputs=inputs))
        return dataclasses.replace(produced, job=job)


def request_values(request: Request) -> dict[str, Any]:
    """The request's own fields (inputs are recorded as lineage, not here)."""
    return {name: getattr(request, name) for name in request.field_names()}


def recipe_for(produced: ProducedAsset, details: Mapping[str, Any] | None = None) -> Recipe:
    """The recipe of a produced asset: everything needed to make it again."""
    job, asset = produced.job, produced.asset
    used_roles = set(asset.input_roles)
    lineage = tuple(
        RecipeInput(asset_id=item.asset_id, role=item.role)
        for item in job.request.inputs
        if item.asset_id and (not used_roles or item.role in used_roles)
    )
    seed = asset.seed if asset.seed is not None else produced.run_options.get("seed")
    return Recipe(
        origin=RecipeOrigin.GENERATED,
        panel=job.panel,
        plugin_id=job.plugin_id,
        plugin_version=produced.plugin_version,
        model_id=produced.model.id,
        model_sha256=produced.model.sha256 or "",
        model_licence=produced.model.licence,
        load_options=dict(produced.load_options),
        run_options=dict(produced.run_options),
        request=request_values(job.request),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        inputs=lineage,
        details={**asset.details, **(details or {}), "device": job.device},
    )


def build_request(panel: Panel, values: Mapping[str, Any], inputs: Sequence[InputMedia]) -> Request:
    """The panel's request from field values; unknown fields are a :class:`UserError`."""
    request_type = REQUEST_TYPE_FOR_PANEL[panel]
    known = {f.name for f in fields(request_type) if f.name != "inputs"}
    for name, value in values.items():
        if name not in known:
            raise UserError(f"A {panel.value} request has no field '{name}'.")
        if not isinstance(value, str):
            raise UserError(f"The request field '{name}' must be text.")
    return request_type(inputs=tuple(inputs), **values)


_check_pool: ThreadPoolExecutor | None = None
_check_pool_lock = threading.Lock()


def _checker() -> ThreadPoolExecutor:
    global _check_pool
    with _check_pool_lock:
        if _check_pool is None:
            _check_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="input-check")
        return _check_pool


class JobPipeline:
    """Checks drafts and prepares their jobs; knows the plugins (``registry``) and how to check
    options (``validate``: the executor's, which also knows the devices)."""

    def __init__(self, registry: PluginRegistry, validate: Callable[[Job], Job]) -> None:
        self.registry = registry
        self._validate = validate

    # 1. check ------------------------------------------------------------------------------

    def check(
        self,
        draft: Draft,
        store: ProjectStore | None = None,
        *,
        complete: bool = False,
        require_inputs: bool = True,
    ) -> CheckedDraft:
        """Check ``draft`` without writing anything (see the module's docstring); ``store``
        is needed for project assets used as inputs. ``complete``: check the input files
        completely now too (the command line, before it opens the project).
        ``require_inputs=False``: a batch's settings, before its inputs are known."""
        plugin_class = self._plugin_class(draft.plugin_id)
        job = self._validate(
            Job(
                plugin_id=draft.plugin_id,
                panel=draft.panel,
                request=build_request(draft.panel, draft.fields, ()),
                load_options=dict(draft.load_options),
                run_options=dict(draft.run_options),
                device=draft.device,
                job_id=draft.job_id,
            )
        )
        slots = plugin_class.inputs
        roles = [role for role, _ in draft.files] + [link.role for link in draft.assets]
        for role in roles:
            if roles.count(role) > 1:
                raise UserError(f"The input '{role}' is given twice.")
        files = tuple(
            self._check_file(draft, slots, role, Path(path)) for role, path in draft.files
        )
        for link in draft.assets:
            self._check_asset(draft, slots, link, store)
        for slot in slots:
            if require_inputs and slot.required and slot.role not in roles:
                raise UserError(
                    f"{self._name(draft.plugin_id)} needs its {slot.label.lower()}: give one "
                    f"as the '{slot.role}' input (drop it on the panel's {slot.label} field, or "
                    f"--input {slot.role}=FILE on the command line)."
                )
        media = None
        if complete or any(item is None for item in files):
            media = check_files(draft.files, store)
            files = tuple(
                InputMedia(role=role, path=Path(path), kind=m.kind, media_type=m.media_type)
                for (role, path), m in zip(draft.files, media, strict=True)
            )
            for item in files:
                self._check_kind(draft, slots, item.role, item.kind, item.path.name)
        return CheckedDraft(
            draft=draft,
            job=job,
            files=tuple(f for f in files if f is not None),
            checked_media=media,
        )

    def _plugin_class(self, plugin_id: str) -> type[ModelPlugin]:
        try:
            return self.registry.plugin_class(plugin_id)
        except PluginUnavailable as exc:
            raise UserError(str(exc)) from exc

    def _name(self, plugin_id: str) -> str:
        return self.registry.get(plugin_id).name

    def _slot_kind(self, draft: Draft, slots: Sequence[InputSlot], role: str) -> AssetKind | None:
        """The kind an input ``role`` takes; refuses a role the plugin has no slot for."""
        if slots:
            slot = next((s for s in slots if s.role == role), None)
            if slot is None:
                offered = ", ".join(f"{s.role} ({s.label.lower()})" for s in slots)
                raise UserError(
                    f"{self._name(draft.plugin_id)} takes no '{role}' input; it takes: {offered}."
                )
            return slot.kind
        return ROLE_KINDS.get(role)

    def _check_kind(
        self, draft: Draft, slots: Sequence[InputSlot], role: str, kind: AssetKind, name: str
    ) -> None:
        wanted = self._slot_kind(draft, slots, role)
        fits = wanted is None or kind is wanted or (wanted in TEXT_KINDS and kind in TEXT_KINDS)
        if not fits:
            raise UserError(
                f"{name} is {KIND_WORDS[kind]}, but the '{role}' input of "
                f"{self._name(draft.plugin_id)} takes {KIND_WORDS[wanted]}."
            )

    def _check_file(
        self, draft: Draft, slots: Sequence[InputSlot], role: str, path: Path
    ) -> InputMedia | None:
        """The input as the plugin may read it before its complete check, or None when its
        first bytes name no media format (text: the complete check has to come first)."""
        self._slot_kind(draft, slots, role)

        def refuse(reason: str) -> ImportRefusedError:  # the import policy's own words
            return ImportRefusedError(
                f"{path.name} cannot be imported: {reason}.", ((path.name, reason),)
            )

        problem = file_problem(path)  # never opened: a named pipe would wait for ever
        if problem:
            raise refuse(f"it {problem}")
        try:
            with open(path, "rb") as file:
                head = file.read(_HEAD_BYTES)
        except OSError as exc:
            raise refuse(f"it cannot be read ({exc.strerror or exc})") from None
        if not head:
            raise refuse("it is empty")
        fmt = sniff_format(head)
        if fmt is None:
            return None
        self._check_kind(draft, slots, role, fmt.kind, path.name)
        return InputMedia(role=role, path=path, kind=fmt.kind, media_type=fmt.media_type)

    def _check_asset(
        self,
        draft: Draft,
        slots: Sequence[InputSlot],
        link: RecipeInput,
        store: ProjectStore | None,
    ) -> Asset:
        if store is None:
            raise UserError("Open the project that holds the input asset.")
        try:
            asset = store.get_asset(link.asset_id)
        except AssetNotFoundError:
            raise UserError(
                f"The input asset {link.asset_id} is not in this project (any more)."
            ) from None
        if asset.deleted:
            raise UserError(f"The input asset “{asset.title}” is in the trash.")
        if slots or link.role in ROLE_KINDS:
            self._check_kind(draft, slots, link.role, asset.kind, f"“{asset.title}”")
        return asset

    # 2. prepare ----------------------------------------------------------------------------

    def prepare(self, checked: CheckedDraft, store: ProjectStore | None) -> PreparedJob:
        """The job ready to run: the files' complete check started (unless done), project
        assets written to files for the plugin. Writes nothing to the project."""
        draft = checked.draft
        if checked.checked_media is not None:
            media: Future[tuple[MediaFile | Asset, ...]] = Future()
            media.set_result(checked.checked_media)
        else:
            media = _checker().submit(check_files, draft.files, store)
        inputs = list(checked.files)
        workdir = None
        if draft.assets:
            if store is None:
                raise UserError("Open the project that holds the input asset.")
            workdir = tempfile.TemporaryDirectory(prefix="studio-inputs-")
            try:
                inputs += asset_inputs(store, draft.assets, Path(workdir.name))
            except BaseException:
                workdir.cleanup()
                raise
        # the checked request's fields (the check may change them: LoRA tags leave the prompt)
        request = dataclasses.replace(checked.job.request, inputs=tuple(inputs))
        job = dataclasses.replace(checked.job, request=request)
        return PreparedJob(job, draft.details, checked.files, media, workdir)

    def run_ready(
        self, draft: Draft, store: ProjectStore | None, *, complete: bool = False
    ) -> PreparedJob:
        """:meth:`check`, then :meth:`prepare`."""
        return self.prepare(self.check(draft, store, complete=complete), store)


def check_files(
    files: Sequence[tuple[str, Path]], store: ProjectStore | None = None
) -> tuple[MediaFile | Asset, ...]:
    """Every file decoded completely; the first refused one raises its
    :class:`~studio.core.media.importing.ImportRefusedError` (then nothing may be committed),
    and a mask must have its init image's size. A file whose content the project holds
    already is that asset: it passed the complete check when it was stored (or a plugin made
    it), so it is not decoded again (the same picture at each Run). An init image with its mask
    is always checked as a pair."""
    pair = {"init", "mask"} <= {role for role, _ in files}
    checked: list[MediaFile | Asset] = []
    for _, path in files:
        data = _bytes_of(Path(path))
        known = None
        if store is not None and not pair and data is not None:
            fmt = sniff_format(data)
            if fmt is not None:
                known = store.find_by_content(sha256_bytes(data), fmt.kind)
        checked.append(known or read_media_file(Path(path), data))
    check_mask_size([(role, item) for (role, _), item in zip(files, checked, strict=True)])
    return tuple(checked)


def _bytes_of(path: Path) -> bytes | None:
    """The file's bytes, or None when it cannot be read (the complete check then says why)."""
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def check_mask_size(media: Sequence[tuple[str, Any]]) -> None:
    """A ``mask`` input is painted over the ``init`` image: refuse one of another size before
    anything is imported (``media``: role and checked :class:`MediaFile` pairs)."""
    by_role = {role: item for role, item in media}
    init, mask = by_role.get("init"), by_role.get("mask")
    if init is None or mask is None:
        return
    init_size = (init.facts.get("width"), init.facts.get("height"))
    mask_size = (mask.facts.get("width"), mask.facts.get("height"))
    if None not in init_size + mask_size and init_size != mask_size:
        raise UserError(
            f"The mask {mask.path.name} is {mask_size[0]}×{mask_size[1]} pixels but the init "
            f"image {init.path.name} is {init_size[0]}×{init_size[1]}: a mask must have the "
            "init image's size. Nothing was imported."
        )


def asset_inputs(
    store: ProjectStore, links: Sequence[RecipeInput], workdir: Path
) -> tuple[InputMedia, ...]:
    """Write project assets to files in ``workdir`` (each in a folder of its own, named after
    the asset's title, so a plugin's title can name it) and describe them as request inputs."""
    result = []
    for index, link in enumerate(links):
        asset = store.get_asset(link.asset_id)
        fmt = format_for_media_type(asset.media_type)
        suffix = fmt.extension if fmt else ".bin"
        folder = workdir / str(index)  # named after the asset's title, for the plugin's titles
        folder.mkdir()
        path = folder / file_name_for(asset.title, suffix, fallback=f"input-{index}")
        path.write_bytes(store.read_blob(asset.id))
        result.append(
            InputMedia(
                role=link.role,
                path=path,
                kind=asset.kind,
                media_type=asset.media_type,
                asset_id=asset.id,
            )
        )
    return tuple(result)


def draft_from_recipe(store: ProjectStore, asset_id: str, device: str | None = None) -> Draft:
    """The draft that makes ``asset_id`` again: the same plugin, model, options, seed and
    inputs (a batch's asset alone, with its own seed); ``details.rerun_of`` names it."""
    recipe = store.get_asset(asset_id).recipe
    if recipe.origin is not RecipeOrigin.GENERATED or recipe.panel is None:
        how = "written" if recipe.origin is RecipeOrigin.WRITTEN else "imported"
        raise UserError(f"The asset {asset_id} was {how}, not generated: it has no job to repeat.")
    known = set(REQUEST_TYPE_FOR_PANEL[recipe.panel].field_names())
    run_options = thaw_json(recipe.run_options)
    if recipe.seed is not None and "seed" in run_options:
        # One asset of a batch: its own seed, made once (not the whole batch again).
        run_options["seed"] = recipe.seed
        if "variations" in run_options:
            run_options["variations"] = 1
    return Draft(
        plugin_id=recipe.plugin_id,
        panel=recipe.panel,
        fields={k: v for k, v in thaw_json(recipe.request).items() if k in known},
        load_options=thaw_json(recipe.load_options),
        run_options=run_options,
        device=device or str(recipe.details.get("device") or "auto"),
        assets=recipe.inputs,
        details={"rerun_of": asset_id},
    )


def split_settings(
    plugin_load: Any, plugin_run: Any, panel: Panel, assignments: Sequence[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Sort ``KEY=VALUE`` settings into load options, run options and request fields.

    A key must name exactly one of them; values are parsed by the option's type.
    """
    request_fields = set(REQUEST_TYPE_FOR_PANEL[panel].field_names())
    load: dict[str, Any] = {}
    run: dict[str, Any] = {}
    request: dict[str, str] = {}
    for key, text in assignments:
        homes = [
            name
            for name, present in (
                ("load options", key in plugin_load),
                ("run options", key in plugin_run),
                ("request", key in request_fields),
            )
            if present
        ]
        if not homes:
            known = sorted({*plugin_load.names, *plugin_run.names, *request_fields})
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise UserError(f"Unknown setting '{key}' (known: {', '.join(known)}).{hint}")
        if len(homes) > 1:
            raise UserError(
                f"The setting '{key}' is ambiguous: it names both {' and '.join(homes)}."
            )
        try:
            if homes[0] == "load options":
                load[key] = plugin_load.parse(key, text)
            elif homes[0] == "run options":
                run[key] = plugin_run.parse(key, text)
            else:
                request[key] = text
        except OptionError as exc:
            raise UserError(str(exc)) from exc
    return load, run, request


# Running prepared jobs -------------------------------------------------------------------------


class InputRefused(UserError):
    """An input file failed its complete check while its job ran: nothing was committed."""


def execute_prepared(
    executor: Executor,
    prepared: PreparedJob,
    sink: ResultSink,
    cancel: CancelToken,
    on_event: Callable[[JobEvent], None] = lambda event: None,
) -> JobOutcome:
    """Run a prepared job on ``executor`` to its
    end, then close it. An input refused by its complete check stops the job at once and ends
    it with :class:`InputRefused` (its message explains the end better than the plugin can)."""
    prepared.when_input_refused(cancel.cancel)
    try:
        outcome = executor.execute(prepared.job, cancel, on_event, sink)
    except Exception:
        refused = prepared.input_error()
        if refused is not None:
            raise InputRefused(refused) from None
        raise
    finally:
        prepared.close()
    refused = prepared.input_error()
    if refused is not None:
        raise InputRefused(refused)
    return outcome


class JobSource(Protocol):
    """A batch: jobs made one at a time (:func:`run_source` runs them in turn, under one
    cancel; the window's panels do it on their own queue)."""

    def next_job(self, cancel: CancelToken) -> tuple[PreparedJob, ResultSink] | None:
        """The next job to run and its sink, or None when the batch is done or ``cancel`` is
        cancelled."""
        ...

    def job_ended(
        self, prepared: PreparedJob, outcome: JobOutcome | None, error: BaseException | None
    ) -> bool:
        """One job ended (``error`` None: it succeeded); False stops the batch."""
        ...


def run_source(
    source: JobSource,
    run_one: Callable[[PreparedJob, ResultSink], JobOutcome],
    cancel: CancelToken,
) -> tuple[str, ...]:
    """Run a batch's jobs one after the other until it is done, stopped or cancelled; returns
    the ids of every asset its jobs kept."""
    kept: list[str] = []
    while True:
        made = source.next_job(cancel)  # None once done, or cancelled
        if made is None:
            break
        outcome, error = None, None
        try:
            outcome = run_one(*made)
        except Exception as exc:
            error = exc
        if outcome is not None:
            kept.extend(outcome.asset_ids)
        elif isinstance(error, JobCancelled):
            kept.extend(error.asset_ids)
        if not source.job_ended(made[0], outcome, error) or isinstance(error, Cancelled):
            break
    return tuple(kept)
