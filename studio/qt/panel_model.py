"""A panel's state as a QObject: what the user chose, the running job, its results, its error.

One :class:`PanelModel` per panel. The widgets in :mod:`studio.ui.panels` bind to it: they
write what the user changes into it (``select_plugin``, ``set_options``, ``set_field``,
``set_input``) and show what its change signals say; they hold no state of their own. Tests
drive a panel through its model alone, as the command line drives the same pipeline.

The model turns its :class:`~studio.qt.panel_jobs.PanelJobRunner`'s signals into state: the
status line, the progress and time left, the error, the results. Its job signals
(``job_finished``...) are emitted after the state is brought up to date.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from studio.core.errors import UserError
from studio.core.jobs import Waiting
from studio.core.model_scan.catalog import LibraryEntry, for_model_picker, loras_for
from studio.core.option_labels import field_label, option_labels
from studio.core.option_values import sort_values
from studio.core.panel_defaults import panel_plugins
from studio.core.pipeline import ROLE_KINDS, CommittedResult, Draft, PreparedJob
from studio.core.project.assets import Asset
from studio.core.recipe import RecipeInput, RecipeOrigin, thaw_json
from studio.core.registry import PluginUnavailable
from studio.core.services import CoreServices
from studio.plugin_api import AssetKind, InputSlot, ModelSpec, OptionSet, Panel
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.project_session import ProjectSession

log = logging.getLogger(__name__)

FIXED_INPUTS: dict[Panel, tuple[str, ...]] = {
    Panel.IMAGE: ("init",),
    Panel.CAPTIONING: ("image",),
}
"""Input roles a panel always offers, whatever the plugin declares (a text-to-image plugin
ignores an empty init image)."""


@dataclass(frozen=True)
class PluginChoice:
    """One entry of the plugin picker."""

    plugin_id: str | None
    label: str
    usable: bool
    tooltip: str


@dataclass(frozen=True)
class InputValue:
    """An input of the request: a file, or a project asset (recorded as lineage)."""

    path: Path | None = None
    asset_id: str | None = None

    @property
    def empty(self) -> bool:
        return self.path is None and self.asset_id is None


@dataclass(frozen=True)
class FoundModel:
    """A model of the library (found in another tool's folder or the user's), in the picker."""

    group: str  # where it was found: "Hugging Face cache", "LM Studio"...
    label: str
    value: str  # its path
    tooltip: str
    reason: str = ""  # why it cannot be used ("" when it can)


@dataclass(frozen=True)
class ModelChoices:
    """What the model picker of the load options lists."""

    imported: tuple[tuple[str, str], ...]  # (label, path) of models the user imported
    unusable: Mapping[str, str]  # known model id -> why it does not work here
    default_model: str | None  # the model an empty value means here
    found: tuple[FoundModel, ...] = ()  # the library's other models this plugin can take


class PanelModel(QObject):
    """Plugin, options, request fields, inputs, the running job, results and the error of one
    panel."""

    plugins_changed = Signal()
    plugin_changed = Signal()  # another plugin (or none): the options change shape
    options_changed = Signal()  # values set from outside the editors (a recipe restored)
    fields_changed = Signal()  # likewise, the request's fields
    input_changed = Signal(str)  # role
    error_changed = Signal(str)  # "" when there is none
    status_changed = Signal(str)  # the idle line: "Ready", "Done: ...", "Cancelled"
    progress_changed = Signal(str, object, str, object)  # job, fraction or None, message, eta
    waiting_changed = Signal(int)  # queue position for the device
    busy_changed = Signal(bool)
    text_received = Signal(str)
    preview_received = Signal(bytes, str)
    result_saved = Signal(str, str)  # job id, asset id: one result committed mid-job
    job_started = Signal(str)
    job_finished = Signal(str, object)  # job id, asset ids
    job_failed = Signal(str, str)  # job id, message
    job_cancelled = Signal(str, object)  # job id, kept asset ids
    library_changed = Signal()  # a new scan of the model library: the picker lists more

    def __init__(
        self,
        panel: Panel,
        services: CoreServices,
        session: ProjectSession,
        runner: PanelJobRunner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.services = services
        self.session = session
        self.runner = runner
        self.plugins: list[PluginChoice] = []
        self.plugin_id: str | None = None
        self.spec: ModelSpec | None = None
        self.plugin_note = ""
        self.load_options: dict[str, Any] = {}
        self.run_options: dict[str, Any] = {}
        self.fields: dict[str, str] = {}
        self.inputs: dict[str, InputValue] = {}
        self.source: str | None = None  # the project asset the request's text came from
        self.extra_inputs: Callable[[], list[RecipeInput]] = list
        self.details: Callable[[], dict[str, Any]] = dict
        self.error = ""
        self.status = "Ready"
        self.current_job: str | None = None
        self.results: list[str] = []  # asset ids this panel made, newest last
        self.stored_inputs: dict[str, str] = {}  # role -> asset id the last job's input became
        self._last_result: tuple[str, bytes] | None = None
        self._forced_stop: str | None = None
        self._verdicts_shown: tuple | None = None
        self.library: list[LibraryEntry] = []  # the last scan of the model library

        runner.queued.connect(self._on_queued)
        runner.waiting.connect(self._on_waiting)
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.stopped_by_force.connect(self._on_stopped_by_force)
        runner.text.connect(self._on_text)
        runner.preview.connect(self._on_preview)
        runner.asset_saved.connect(self._on_asset_saved)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)
        runner.cancelled.connect(self._on_cancelled)

    # error and status ---------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.error = message
        self.error_changed.emit(message)

    def clear_error(self) -> None:
        if self.error:
            self.show_error("")

    def set_status(self, text: str) -> None:
        self.status = text
        self.status_changed.emit(text)

    @property
    def busy(self) -> bool:
        return self.runner.busy

    # plugins ------------------------------------------------------------------------------

    def refresh_plugins(self) -> None:
        """The picker's entries from the registry (after discovery), in the panel's order.

        A plugin whose engine failed its self-check on this machine is listed, not usable,
        with the reason; it is never picked by itself. If the current plugin has just been
        found unusable, the next usable one is picked and the error says so.
        """
        current = self.plugin_id
        checks = self.services.engine_checks
        records = panel_plugins(self.services.registry, self.panel)
        choices: list[PluginChoice] = []
        usable: list[str] = []
        unusable_reason: dict[str, str] = {}
        for record in records:
            licence = record.manifest.licence if record.manifest else ""
            label = record.name + (f" · {licence}" if licence else "")
            reason = checks.unusable_reason(record.id) if record.enabled else ""
            if not record.enabled:
                label += " (disabled)"
                tooltip = record.reason
            elif reason:
                label += " (does not work here)"
                unusable_reason[record.id] = reason
                tooltip = f"Not usable on this machine: {reason} ('studio doctor' says more)."
            else:
                usable.append(record.id)
                tooltip = record.manifest.description if record.manifest else ""
            choices.append(PluginChoice(record.id, label, record.enabled and not reason, tooltip))
        if not records:
            choices.append(PluginChoice(None, "No plugin for this panel is installed", False, ""))
        self.plugins = choices
        self.plugins_changed.emit()
        ready = [plugin_id for plugin_id in usable if self._runs_as_it_is(plugin_id)]
        choice = current if current in usable else next(iter(ready or usable), None)
        self._pick(choice, force=True)
        if current in unusable_reason and choice is not None:
            name = self.services.registry.get(choice).name
            self.show_error(
                f"{unusable_reason[current]}, so it is not used here: switched to {name}."
            )

    def _runs_as_it_is(self, plugin_id: str) -> bool:
        """Whether a plugin can do its job without the user bringing a model first: it needs
        none, ships one, or a model for this panel was imported. Only such a plugin is picked
        by itself (Stable Diffusion waits until a model is imported)."""
        try:
            spec = self.services.registry.spec(plugin_id)
        except PluginUnavailable:
            return False
        return not spec.needs_user_model or bool(self.services.model_library.entries(self.panel))

    def select_plugin(self, plugin_id: str) -> bool:
        """Pick a plugin as the user would; one that is not usable (disabled, or not working
        on this machine) cannot be picked."""
        if not any(c.plugin_id == plugin_id and c.usable for c in self.plugins):
            return False
        self._pick(plugin_id)
        return True

    def _pick(self, plugin_id: str | None, force: bool = False) -> None:
        if plugin_id == self.plugin_id and not force:
            return
        changed = plugin_id != self.plugin_id
        self.plugin_id = plugin_id
        self.spec = None
        if changed:
            # What went wrong with another plugin says nothing about this one.
            self.clear_error()
            self.load_options, self.run_options = {}, {}
        if plugin_id is None:
            records = [r for r in self.services.registry.records() if self.panel in r.panels]
            self.plugin_note = "\n".join(f"{r.name}: {r.reason}" for r in records if not r.enabled)
        else:
            try:
                self.spec = self.services.registry.spec(plugin_id)
            except PluginUnavailable as exc:
                self.plugin_note = ""
                self.show_error(str(exc))
            else:
                self.plugin_note = self.spec.description
        self._verdicts_shown = self._verdicts(self.spec) if self.spec is not None else None
        self.plugin_changed.emit()

    def _verdicts(self, spec: ModelSpec) -> tuple[str, dict[str, str], str | None]:
        """What the cached engine verdicts say of a plugin: why it cannot run here (or ""),
        why each of its known models cannot, and the model an empty value means."""
        checks = self.services.engine_checks
        return (
            checks.unusable_reason(spec.id),
            {m.id: checks.unusable_reason(spec.id, m.id) for m in spec.models},
            checks.default_model(spec.id),
        )

    def model_choices(self) -> ModelChoices:
        """What the model picker lists for the current plugin."""
        verdicts = self._verdicts_shown or ("", {}, None)
        library = self.services.model_library
        imported = tuple((e.label, e.path) for e in library.entries(self.panel))
        return ModelChoices(
            imported=imported,
            unusable={k: v for k, v in verdicts[1].items() if v},
            default_model=verdicts[2],
            found=self._found_models({path for _label, path in imported}),
        )

    def _found_models(self, listed: set[str]) -> tuple[FoundModel, ...]:
        if self.plugin_id is None:
            return ()
        try:
            manifest = self.services.registry.get(self.plugin_id).manifest
        except PluginUnavailable:
            return ()
        formats = manifest.model_formats if manifest is not None else ()
        found = []
        for entry in for_model_picker(self.library, self.panel, formats):
            facts = entry.facts
            assert facts is not None  # for_model_picker keeps described models only
            if entry.value in listed:
                continue
            blocking = [p.message for p in facts.problems if p.blocking]
            details = " · ".join(facts.summary_parts())
            found.append(
                FoundModel(
                    group=entry.source_label,
                    label=entry.name,
                    value=entry.value,
                    tooltip=f"{entry.name}\n{details}\n{facts.path}"
                    + (f"\nLicence: {entry.licence}." if entry.licence else ""),
                    reason=blocking[0] if blocking else "",
                )
            )
        return tuple(found)

    def lora_names(self) -> list[str]:
        """The library's LoRAs, by the names the ``loras`` option takes."""
        return [entry.name for entry in loras_for(self.library)]

    def set_library(self, entries: list[LibraryEntry]) -> None:
        """The model library as the last scan found it; the picker lists what fits."""
        self.library = list(entries)
        self.library_changed.emit()

    def remember_model(self, path: str) -> None:
        """A model folder or file the user picked: listed in the picker from now on."""
        self.services.model_library.remember(path, self.panel)

    def warm_up(self) -> None:
        """Get the panel's model process ready: import the plugin's libraries there and, if
        the preference allows, load the selected model, so the first Run starts at once.
        Only a model process does this: the window itself never imports torch."""
        if self.plugin_id is None or self.spec is None:
            return
        settings = self.services.settings
        executor = self.runner.executor
        if settings.warm_up_models:
            executor.prepare_plugin(
                self.plugin_id, self.load_options, settings.device_for(self.panel)
            )
        else:
            executor.prepare_plugin(self.plugin_id)

    # what the user asks for -----------------------------------------------------------------

    def set_options(
        self, load: Mapping[str, Any] | None = None, run: Mapping[str, Any] | None = None
    ) -> None:
        """Options as the editors hold them (only values that differ from the defaults)."""
        if load is not None:
            self.load_options = dict(load)
        if run is not None:
            self.run_options = dict(run)

    def take_options(self, load: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
        """Options from elsewhere (settings read from an image) on top of the current ones;
        returns the names the plugin has no use for (unknown, or an invalid value)."""
        if self.spec is None:
            return [*load, *run]
        unknown: list[str] = []
        for current, values, options in (
            (self.load_options, load, self.spec.load_options),
            (self.run_options, run, self.spec.run_options),
        ):
            taken, rejected = _known_values(options, values)
            for name in values:
                if name not in rejected:
                    current.pop(name, None)  # a default value, set on purpose
            current.update(taken)
            unknown += rejected
        self.options_changed.emit()
        return unknown

    def labels(self, names: list[str]) -> list[str]:
        """People's words for option and field names ("keep_size" is "Keep original size")."""
        known = option_labels(self.spec) if self.spec is not None else {}
        return [known.get(name) or field_label(name) for name in names]

    def set_field(self, name: str, value: str) -> None:
        self.fields[name] = value

    def set_fields(self, values: Mapping[str, str], *, replace: bool = False) -> None:
        """Fields set from outside their editors (a recipe); the editors are told."""
        if replace:
            self.fields = {}
        self.fields.update(values)
        self.fields_changed.emit()

    def input_slot(self, role: str) -> InputSlot | None:
        return self.spec.input_slot(role) if self.spec is not None else None

    def input_roles(self) -> tuple[str, ...]:
        """The inputs this panel offers with the current plugin: the panel's own, then the
        plugin's declared slots."""
        roles = list(FIXED_INPUTS.get(self.panel, ()))
        if self.spec is not None:
            roles += [slot.role for slot in self.spec.inputs if slot.role not in roles]
        return tuple(roles)

    def input_kind(self, role: str) -> AssetKind | None:
        slot = self.input_slot(role)
        return slot.kind if slot is not None else ROLE_KINDS.get(role)

    def input_label(self, role: str, fallback: str) -> str:
        """The plugin's name for an input ("Image to restyle"), or the panel's."""
        slot = self.input_slot(role)
        return slot.label if slot is not None and slot.label else fallback

    def input(self, role: str) -> InputValue:
        return self.inputs.get(role, InputValue())

    def input_name(self, role: str) -> str:
        """What an input is, in a few words: the file's name, or the project asset's title."""
        value = self.input(role)
        if value.path is not None:
            return value.path.name
        if value.asset_id is None:
            return ""
        try:
            return f"“{self.session.asset(value.asset_id).title}” (from the project)"
        except Exception:  # gone from the project, or the project closed
            return f"project asset {value.asset_id[-6:]}"

    def set_input(self, role: str, path: Path | None = None, asset_id: str | None = None) -> None:
        """A file or a project asset for an input (neither: empty it)."""
        value = InputValue(path=path, asset_id=None if path is not None else asset_id)
        if self.inputs.get(role, InputValue()) == value:
            return
        self.inputs[role] = value
        self.input_changed.emit(role)

    def needs_model(self) -> bool:
        """The plugin needs a model the user brings, and none is chosen."""
        spec = self.spec
        if spec is None or not spec.needs_user_model:
            return False
        return not str(self.load_options.get("model", "")).strip()

    # running ------------------------------------------------------------------------------

    def build_draft(self) -> Draft:
        """What the user asked for: plugin, options, the request's fields, the input files
        and project assets by role, and the facts for the recipe."""
        if self.plugin_id is None:
            raise UserError("Choose a plugin first.")
        if self.needs_model():
            raise UserError(
                "No model is imported: use Import model… to choose a model folder first."
            )
        roles = [role for role in self.input_roles() if not self.input(role).empty]
        return Draft(
            plugin_id=self.plugin_id,
            panel=self.panel,
            fields={k: v for k, v in self.fields.items() if self._reads(k)},
            load_options=dict(self.load_options),
            run_options=dict(self.run_options),
            device=self.services.settings.device_for(self.panel),
            files=tuple(
                (role, path) for role in roles if (path := self.input(role).path) is not None
            ),
            assets=(
                *(
                    RecipeInput(asset_id=asset_id, role=role)
                    for role in roles
                    if (asset_id := self.input(role).asset_id) is not None
                ),
                *([RecipeInput(asset_id=self.source, role="source")] if self.source else []),
                *self.extra_inputs(),
            ),
            details=self.details(),
        )

    def _reads(self, field_name: str) -> bool:
        return self.spec is None or self.spec.reads(field_name)

    def prepare(self, draft: Draft | None = None) -> PreparedJob | None:
        """Check the job (the draft, or the one the model's state makes) and prepare it; on a
        problem, show its sentence and return None."""
        self.clear_error()
        try:
            draft = draft or self.build_draft()
            return self.services.pipeline.run_ready(draft, self.session.store)
        except UserError as exc:
            self.show_error(str(exc))
            return None

    def run(self, draft: Draft | None = None) -> str | None:
        """Check and queue the job; on a problem, show its sentence and return None."""
        prepared = self.prepare(draft)
        return self.submit(prepared) if prepared is not None else None

    def submit(self, prepared: PreparedJob) -> str:
        """Queue a prepared job on this panel (Run, and a re-run from the asset browser)."""
        self.stored_inputs = {}
        sink = prepared.sink(self.session.store, [self.session.announce, self._remember_result])
        self.current_job = self.runner.submit(prepared, sink)
        self.busy_changed.emit(True)
        return self.current_job

    def _remember_result(self, committed: CommittedResult) -> None:
        # On the runner's thread: the result's bytes (shown when the job ends, without reading
        # them back from the project) and the ids the inputs were stored as.
        if committed.asset_id:
            self._last_result = (committed.asset_id, committed.produced.asset.data)
        for item in committed.produced.job.request.inputs:
            if item.asset_id:
                self.stored_inputs[item.role] = item.asset_id

    def last_result_data(self, asset_id: str) -> bytes | None:
        """The bytes of the job's last result, when it is ``asset_id`` (taken once)."""
        last, self._last_result = self._last_result, None
        return last[1] if last is not None and last[0] == asset_id else None

    def cancel(self) -> None:
        if self.runner.busy:
            self.runner.cancel()
            self.set_status("Cancelling…")

    # restoring a recipe --------------------------------------------------------------------

    def restore_recipe(self, asset: Asset) -> list[str]:
        """Plugin, options, fields and inputs from the asset's recipe; returns what was not
        used, in people's words (option labels)."""
        recipe = asset.recipe
        if recipe.origin is not RecipeOrigin.GENERATED or recipe.panel is not self.panel:
            return []
        if not self.select_plugin(recipe.plugin_id):
            return [f"plugin {recipe.plugin_id} (not installed)"]
        assert self.spec is not None
        load, load_unknown = _known_values(self.spec.load_options, thaw_json(recipe.load_options))
        run, run_unknown = _known_values(self.spec.run_options, thaw_json(recipe.run_options))
        self.load_options, self.run_options = load, run
        self.options_changed.emit()
        request = thaw_json(recipe.request)
        self.set_fields({k: v for k, v in request.items() if isinstance(v, str)})
        roles = self.input_roles()
        for link in recipe.inputs:
            if link.role in roles:
                self.set_input(link.role, asset_id=link.asset_id)
            elif link.role == "source" and self.panel is Panel.VOICE:
                self.source = link.asset_id  # the text asset that was spoken
        return self.labels(load_unknown + run_unknown)

    # runner signals (GUI thread) ------------------------------------------------------------

    @Slot(str)
    def _on_queued(self, job_id: str) -> None:
        waiting = len(self.runner.active_jobs) - 1
        self.set_status(f"Queued ({waiting} ahead)" if waiting else "Starting…")

    @Slot(str, int)
    def _on_waiting(self, job_id: str, position: int) -> None:
        self.waiting_changed.emit(position)
        self.status = Waiting(position).words

    @Slot(str)
    def _on_started(self, job_id: str) -> None:
        self.progress_changed.emit(job_id, None, "Starting…", None)
        self.job_started.emit(job_id)

    @Slot(str, object, str, object)
    def _on_progress(self, job_id: str, fraction: Any, message: str, eta: Any) -> None:
        self.progress_changed.emit(job_id, fraction, message, eta)

    @Slot(str, str)
    def _on_text(self, job_id: str, text: str) -> None:
        self.text_received.emit(text)

    @Slot(str, bytes, str)
    def _on_preview(self, job_id: str, data: bytes, media_type: str) -> None:
        self.preview_received.emit(data, media_type)

    @Slot(str, str)
    def _on_asset_saved(self, job_id: str, asset_id: str) -> None:
        if asset_id not in self.results:
            self.results.append(asset_id)
        self.result_saved.emit(job_id, asset_id)

    @Slot(str, object)
    def _on_finished(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self.results += [a for a in asset_ids if a not in self.results]
        count = len(asset_ids)
        self.set_status(
            f"Done: {count} asset{'s' if count != 1 else ''} saved to {self.session.display_name}"
        )
        self.busy_changed.emit(self.runner.busy)
        self.job_finished.emit(job_id, asset_ids)
        self._refresh_if_verdicts_changed()

    @Slot(str, str)
    def _on_failed(self, job_id: str, message: str) -> None:
        self.set_status("Failed")
        self.show_error(message)
        self.busy_changed.emit(self.runner.busy)
        self.job_failed.emit(job_id, message)
        self._refresh_if_verdicts_changed()

    @Slot(str)
    def _on_stopped_by_force(self, job_id: str) -> None:
        self._forced_stop = job_id

    @Slot(str, object)
    def _on_cancelled(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self.results += [a for a in asset_ids if a not in self.results]
        kept = f" ({len(asset_ids)} finished and kept)" if asset_ids else ""
        if self._forced_stop == job_id:
            self._forced_stop = None
            self.set_status(f"Cancelled: stopped by force{kept}")
            self.show_error(
                "The model did not stop when asked, so its process was ended; the next run "
                "starts it again (and loads the model again)."
            )
        else:
            self.set_status(f"Cancelled{kept}")
        self.busy_changed.emit(self.runner.busy)
        self.job_cancelled.emit(job_id, asset_ids)

    def _refresh_if_verdicts_changed(self) -> None:
        """A job ran an engine's first check here: show what it found (an engine that fails is
        not usable and no longer the default), keeping the options the user set."""
        if self.spec is None or self._verdicts(self.spec) == self._verdicts_shown:
            return
        plugin_id, load, run = self.spec.id, self.load_options, self.run_options
        error = self.error
        self.refresh_plugins()
        if self.plugin_id == plugin_id:
            self.load_options, self.run_options = load, run
            self.options_changed.emit()
            if error and not self.error:
                self.show_error(error)


def _known_values(options: OptionSet, values: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """The values an option set takes (valid, and not the default), and the names of those it
    does not."""
    taken, refused = sort_values(options, values)
    changed = {name: value for name, value in taken.items() if value != options[name].default}
    return changed, list(refused)
