"""The shape every panel shares: plugin and model picker, options form, Run/Cancel, progress
with ETA, an output area, and an error banner.

A panel subclass adds only its request editor (what to make) and its output view (what was
made). Jobs run on the panel's :class:`~studio.qt.panel_jobs.PanelJobRunner`; the panel reacts
to its signals, which arrive in the GUI thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.model_files import model_panel
from studio.core.panel_defaults import panel_plugins
from studio.core.pipeline import ROLE_KINDS, CommittedResult, Draft, PreparedJob
from studio.core.project.assets import KIND_WORDS, TEXT_KINDS, Asset
from studio.core.recipe import RecipeInput, RecipeOrigin, thaw_json
from studio.core.registry import PluginUnavailable
from studio.core.services import CoreServices
from studio.plugin_api import AssetKind, ModelSpec, Panel
from studio.qt.asset_drag import DraggedAssets, dragged_assets, local_paths
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.project_session import ProjectSession
from studio.ui.drop_overlay import DropOverlay
from studio.ui.options_form import OptionsForm
from studio.ui.widgets import ErrorBanner, FileInput, JobProgress

log = logging.getLogger(__name__)

_DRAG_EVENTS = (
    QEvent.Type.DragEnter,
    QEvent.Type.DragMove,
    QEvent.Type.DragLeave,
    QEvent.Type.Drop,
)


class PanelWidget(QWidget):
    """Base of the four panels. Subclasses implement the ``build_*`` and request hooks."""

    panel: Panel
    asset_shown = Signal(str)

    def __init__(
        self,
        services: CoreServices,
        session: ProjectSession,
        runner: PanelJobRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"panel-{self.panel.value}")
        self.services = services
        self.session = session
        self.runner = runner
        self.load_form: OptionsForm | None = None
        self.run_form: OptionsForm | None = None
        self._spec: ModelSpec | None = None
        self.current_job: str | None = None
        self._stored_inputs: dict[str, str] = {}
        self._last_result: tuple[str, bytes] | None = None  # (asset id, data): no re-read
        self._forced_stop: str | None = None  # the job whose model process was ended
        self._prepared = False
        self._verdicts_shown: tuple | None = None

        self.error_banner = ErrorBanner()
        self.plugin_combo = QComboBox()
        self.plugin_combo.setObjectName("plugin-picker")
        self.plugin_combo.setMinimumContentsLength(24)
        self.plugin_combo.currentIndexChanged.connect(self._plugin_changed)
        self.plugin_note = QLabel()
        self.plugin_note.setWordWrap(True)
        self.plugin_note.setStyleSheet("color: palette(mid);")

        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("run")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Run (Ctrl+Enter)")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel")
        self.cancel_button.setToolTip("Cancel this panel's jobs (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = JobProgress()

        controls = QWidget()
        controls.setMinimumWidth(360)  # room for the options form without a sideways scroll
        controls_layout = QVBoxLayout(controls)
        picker = QFormLayout()
        picker.addRow("Plugin", self.plugin_combo)
        controls_layout.addLayout(picker)
        controls_layout.addWidget(self.plugin_note)
        request_box = QGroupBox(self.request_title())
        self.request_layout = QVBoxLayout(request_box)
        self.build_request_area(self.request_layout)
        controls_layout.addWidget(request_box, self.request_stretch())
        self.options_box = QGroupBox("Options")
        self.options_layout = QVBoxLayout(self.options_box)
        self.options_layout.addStretch(1)  # forms go above it, at the top
        options_scroll = QScrollArea()
        options_scroll.setWidgetResizable(True)
        options_scroll.setWidget(self.options_box)
        options_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        controls_layout.addWidget(options_scroll, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.run_button)
        controls_layout.addLayout(buttons)

        output = QGroupBox(self.output_title())
        output_layout = QVBoxLayout(output)
        self.build_output_area(output_layout)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(controls)
        splitter.addWidget(output)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_banner)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.progress)

        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.run)
        escape = QShortcut(QKeySequence("Esc"), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.cancel)

        runner.queued.connect(self._on_queued)
        runner.waiting.connect(self._on_waiting)
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.stopped_by_force.connect(self._on_stopped_by_force)
        runner.text.connect(self._on_text)
        runner.preview.connect(self._on_preview)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)
        runner.cancelled.connect(self._on_cancelled)
        self.plugin_combo.addItem("Looking for plugins…")
        self.plugin_combo.setEnabled(False)

        # Assets dragged from the asset browser: handled here for every panel, before a
        # panel's own handling of dropped files (an event filter sees the events first).
        self.setAcceptDrops(True)
        self.drop_overlay = DropOverlay(self)
        self.installEventFilter(self)

    # hooks for the panels ------------------------------------------------------------------

    def request_title(self) -> str:
        return "Request"

    def request_stretch(self) -> int:
        """How much of the height the request area takes, against 1 for the options."""
        return 1

    def output_title(self) -> str:
        return "Result"

    def build_request_area(self, layout: QVBoxLayout) -> None:
        raise NotImplementedError

    def build_output_area(self, layout: QVBoxLayout) -> None:
        raise NotImplementedError

    def request_fields(self) -> dict[str, str]:
        """The request's text fields from the editors."""
        raise NotImplementedError

    def set_request_fields(self, values: dict[str, Any]) -> None:
        """Fill the editors from a recipe's request."""

    def file_inputs(self) -> dict[str, FileInput]:
        """Input widgets by role (``init``, ``image``...)."""
        return {}

    def extra_input_assets(self) -> list[RecipeInput]:
        """Project assets the job builds on besides the file inputs (recorded as lineage)."""
        return []

    def job_details(self) -> dict[str, Any]:
        """Facts about the job for its recipe that the request does not hold."""
        return {}

    def plugin_selected(self, spec: ModelSpec | None) -> None:
        """The picked plugin changed (``None``: no usable plugin); adapt the request area,
        for example show a field for each of ``spec.inputs``."""

    def clear_output(self) -> None:
        """Before a new job: clear what the previous one showed."""

    def show_text(self, text: str) -> None:
        """A streamed piece of text arrived."""

    def show_preview(self, data: bytes, media_type: str) -> None:
        """A preview arrived (replaces the previous one)."""

    def show_asset(self, asset: Asset, data: bytes) -> None:
        """Show a finished or opened asset in the output area."""

    # assets dropped from the asset browser ------------------------------------------------

    def take_text_asset(self, asset: Asset, text: str) -> bool:
        """A text, caption or document was dropped: use it (True) or not (False, the
        default)."""
        return False

    def takes_text_assets(self) -> str:
        """What a dropped text asset becomes here ("the document"), or "" if refused."""
        return ""

    def _input_for(self, kind: AssetKind) -> tuple[str, FileInput] | None:
        for role, widget in self.file_inputs().items():
            slot = self._spec.input_slot(role) if self._spec is not None else None
            slot_kind = slot.kind if slot is not None else ROLE_KINDS.get(role)
            if slot_kind is kind and widget.isVisibleTo(self):
                return role, widget
        return None

    def asset_drop_answer(self, dragged: DraggedAssets) -> tuple[bool, str]:
        """Whether this panel takes these assets, and what it will do (or why not)."""
        if dragged.project and dragged.project != str(self.session.path or ""):
            return False, "These assets belong to another project."
        kind = AssetKind(dragged.kinds[0])
        name = self.panel.value.capitalize()
        if kind in TEXT_KINDS:
            target = self.takes_text_assets()
            if target:
                return True, f"Drop to use the {kind.value} as {target}"
            return False, f"The {name} panel cannot use a {kind.value}."
        found = self._input_for(kind)
        if found is None:
            return False, f"The {name} panel cannot use {KIND_WORDS[kind]} here."
        return True, f"Drop to use it as the {found[1].title.lower()}"

    def take_assets(self, dragged: DraggedAssets) -> bool:
        accepted, message = self.asset_drop_answer(dragged)
        if not accepted:
            self.error_banner.show_message(message)
            return False
        asset = self.session.asset(dragged.asset_ids[0])
        if asset.kind in TEXT_KINDS:
            text = self.session.store.read_blob(asset.id).decode("utf-8", errors="replace")
            return self.take_text_asset(asset, text)
        found = self._input_for(asset.kind)
        if found is None:
            return False
        found[1].set_asset(asset.id)  # recorded as lineage when the job runs
        return True

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if watched is not self or kind not in _DRAG_EVENTS:
            return super().eventFilter(watched, event)
        if kind == QEvent.Type.DragLeave:
            self.drop_overlay.hide()
            return False
        dragged = dragged_assets(event.mimeData())
        if dragged is None:
            return self._filter_file_drag(event)
        if kind == QEvent.Type.DragEnter:
            accepted, message = self.asset_drop_answer(dragged)
            if accepted:
                self.drop_overlay.show_accept(message)
            else:
                self.drop_overlay.show_refuse(message)
            event.accept()
        elif kind == QEvent.Type.DragMove:
            if self.drop_overlay.accepting:
                event.acceptProposedAction()
            else:
                event.ignore()
        else:  # Drop
            self.drop_overlay.hide()
            if self.take_assets(dragged):
                event.acceptProposedAction()
            else:
                event.ignore()
        return True

    def file_drop_message(self, paths: list[Path]) -> str:
        """What dropping these files (which the panel takes) will do, for the highlight."""
        name = paths[0].name if len(paths) == 1 else f"{len(paths)} files"
        return f"Drop to use {name} in the {self.panel.value.capitalize()} panel"

    def _filter_file_drag(self, event) -> bool:
        """Files: the panel's own handlers decide; this adds the highlight (or the reason),
        and leaves projects and model files the panel does not take to the window."""
        mime = event.mimeData()
        paths = local_paths(mime)
        if not paths:
            return False
        kind = event.type()
        if kind == QEvent.Type.DragEnter:
            event.ignore()
            self.dragEnterEvent(event)
            if event.isAccepted():
                self.drop_overlay.show_accept(self.file_drop_message(paths))
            elif any(p.suffix.lower() == ".studio" or model_panel(p) for p in paths):
                self.drop_overlay.hide()  # the window opens or imports it
            else:
                name = paths[0].name if len(paths) == 1 else "these files"
                self.drop_overlay.show_refuse(
                    f"The {self.panel.value.capitalize()} panel cannot use {name}."
                )
                event.accept()  # keep hearing of the drag, to keep saying why not
            return True
        if kind == QEvent.Type.DragMove:
            if self.drop_overlay.isVisible() and self.drop_overlay.accepting:
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        # Drop
        taken = self.drop_overlay.isVisible() and self.drop_overlay.accepting
        refused = self.drop_overlay.isVisible() and not self.drop_overlay.accepting
        self.drop_overlay.hide()
        if taken:
            self.dropEvent(event)
            return True
        if refused:
            self.error_banner.show_message(self.drop_overlay.message)
            event.ignore()
            return True
        return False

    # plugins -------------------------------------------------------------------------------

    def refresh_plugins(self) -> None:
        """Fill the plugin picker from the registry (after discovery), in the panel's order.

        A plugin whose engine failed its self-check on this machine is listed, greyed, with
        the reason; it is never picked by itself. If the current plugin has just been found
        unusable, the next usable one is picked and the banner says so.
        """
        current = self.current_plugin_id()
        checks = self.services.engine_checks
        self.plugin_combo.blockSignals(True)
        self.plugin_combo.clear()
        records = panel_plugins(self.services.registry, self.panel)
        usable = []
        unusable_reason = {}
        for record in records:
            licence = record.manifest.licence if record.manifest else ""
            label = record.name + (f" · {licence}" if licence else "")
            reason = checks.unusable_reason(record.id) if record.enabled else ""
            if not record.enabled:
                label += " (disabled)"
            elif reason:
                label += " (does not work here)"
                unusable_reason[record.id] = reason
            else:
                usable.append(record.id)
            self.plugin_combo.addItem(label, record.id)
            index = self.plugin_combo.count() - 1
            if not record.enabled:
                tooltip = record.reason
            elif reason:
                tooltip = f"Not usable on this machine: {reason} ('studio doctor' says more)."
            else:
                tooltip = record.manifest.description if record.manifest else ""
            self.plugin_combo.setItemData(index, tooltip, Qt.ItemDataRole.ToolTipRole)
            if not record.enabled or reason:
                item = self.plugin_combo.model().item(index)
                item.setEnabled(False)
        if not records:
            self.plugin_combo.addItem("No plugin for this panel is installed", None)
        self.plugin_combo.setEnabled(bool(records))
        self.plugin_combo.blockSignals(False)
        ready = [plugin_id for plugin_id in usable if self._runs_as_it_is(plugin_id)]
        choice = current if current in usable else next(iter(ready or usable), None)
        index = self.plugin_combo.findData(choice) if choice else 0
        self.plugin_combo.setCurrentIndex(max(index, 0))
        self._plugin_changed()
        if current in unusable_reason and choice is not None:
            name = self.services.registry.get(choice).name
            self.error_banner.show_message(
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

    def current_plugin_id(self) -> str | None:
        data = self.plugin_combo.currentData()
        return data if isinstance(data, str) else None

    def select_plugin(self, plugin_id: str) -> bool:
        """Pick a plugin as the user would; a greyed one (disabled, or not working on this
        machine) cannot be picked."""
        index = self.plugin_combo.findData(plugin_id)
        if index < 0 or not self.plugin_combo.model().item(index).isEnabled():
            return False
        self.plugin_combo.setCurrentIndex(index)
        return True

    @Slot()
    def _plugin_changed(self) -> None:
        for form in (self.load_form, self.run_form):
            if form is not None:
                form.setParent(None)
                form.deleteLater()
        self.load_form = self.run_form = None
        self._spec = None
        plugin_id = self.current_plugin_id()
        self.run_button.setEnabled(plugin_id is not None)
        if plugin_id is None:
            records = [r for r in self.services.registry.records() if self.panel in r.panels]
            reasons = [f"{r.name}: {r.reason}" for r in records if not r.enabled]
            self.plugin_note.setText("\n".join(reasons))
            self.plugin_selected(None)
            return
        try:
            spec = self.services.registry.spec(plugin_id)
        except PluginUnavailable as exc:
            self.error_banner.show_message(str(exc))
            self.run_button.setEnabled(False)
            self.plugin_selected(None)
            return
        self.plugin_note.setText(spec.description)
        self._spec = spec
        library = self.services.model_library
        self._verdicts_shown = verdicts = self._verdicts(spec)
        self.load_form = OptionsForm(
            spec.load_options,
            known_models=spec.models,
            imported_models=[(e.label, e.path) for e in library.entries(self.panel)],
            on_import=lambda path: library.remember(path, self.panel),
            unusable_models={k: v for k, v in verdicts[1].items() if v},
            default_model=verdicts[2],
        )
        self.run_form = OptionsForm(spec.run_options)
        for position, form in enumerate((self.load_form, self.run_form)):
            self.options_layout.insertWidget(position, form)
            form.setVisible(bool(form.editors))
        self.options_box.setVisible(bool(self.load_form.editors or self.run_form.editors))
        self.plugin_selected(spec)
        if self.isVisible():
            self.warm_up(plugin_id)

    def _verdicts(self, spec: ModelSpec) -> tuple[str, dict[str, str], str | None]:
        """What the cached engine verdicts say of a plugin: why it cannot run here (or ""),
        why each of its known models cannot, and the model an empty value means."""
        checks = self.services.engine_checks
        return (
            checks.unusable_reason(spec.id),
            {m.id: checks.unusable_reason(spec.id, m.id) for m in spec.models},
            checks.default_model(spec.id),
        )

    def showEvent(self, event) -> None:
        super().showEvent(event)
        plugin_id = self.current_plugin_id()
        if plugin_id and not self._prepared:
            self._prepared = True
            self.warm_up(plugin_id)

    def warm_up(self, plugin_id: str) -> None:
        """Get the panel's model process ready: import the plugin's libraries there and, if
        the preference allows, load the selected model, so the first Run starts at once.
        Only a model process does this: the window itself never imports torch."""
        settings = self.services.settings
        if settings.warm_up_models and self.load_form is not None:
            self.runner.executor.prepare_plugin(plugin_id, self.load_form.values(), settings.device)
        else:
            self.runner.executor.prepare_plugin(plugin_id)

    # running -------------------------------------------------------------------------------

    def build_draft(self) -> Draft:
        """What the user asked for, from the editors: plugin, options, the request's fields,
        the input files and project assets by role, and the facts for the recipe."""
        plugin_id = self.current_plugin_id()
        if plugin_id is None:
            raise UserError("Choose a plugin first.")
        inputs = self.file_inputs().items()
        return Draft(
            plugin_id=plugin_id,
            panel=self.panel,
            fields=self.request_fields(),
            load_options=self.load_form.values() if self.load_form else {},
            run_options=self.run_form.values() if self.run_form else {},
            device=self.services.settings.device,
            files=tuple((role, w.path) for role, w in inputs if w.path is not None),
            assets=(
                *(RecipeInput(asset_id=w.asset_id, role=role) for role, w in inputs if w.asset_id),
                *self.extra_input_assets(),
            ),
            details=self.job_details(),
        )

    def imported_input(self, role: str) -> str | None:
        """The project asset that the input file ``role`` of the last job became (committed
        with its first result), or None."""
        return self._stored_inputs.get(role)

    @Slot()
    def run(self) -> None:
        if not self.run_button.isEnabled() and self.current_plugin_id() is None:
            return
        self.error_banner.hide()
        try:
            prepared = self.services.pipeline.run_ready(self.build_draft(), self.session.store)
        except UserError as exc:
            self.error_banner.show_message(str(exc))
            return
        self.submit(prepared)

    def submit(self, prepared: PreparedJob) -> str:
        """Queue a prepared job on this panel (Run, and a re-run from the asset browser)."""
        self.clear_output()
        self._stored_inputs = {}
        sink = prepared.sink(self.session.store, [self.session.announce, self._remember_result])
        self.current_job = self.runner.submit(prepared, sink)
        self.cancel_button.setEnabled(True)
        return self.current_job

    def _remember_result(self, committed: CommittedResult) -> None:
        # On the runner's thread: the result's bytes (shown when the job ends, without reading
        # them back from the project) and the ids the inputs were stored as.
        if committed.asset_id:
            self._last_result = (committed.asset_id, committed.produced.asset.data)
        for item in committed.produced.job.request.inputs:
            if item.asset_id:
                self._stored_inputs[item.role] = item.asset_id

    @Slot()
    def cancel(self) -> None:
        if self.runner.busy:
            self.runner.cancel()
            self.progress.idle("Cancelling…")

    # runner signals (GUI thread) ------------------------------------------------------------

    @Slot(str)
    def _on_queued(self, job_id: str) -> None:
        waiting = len(self.runner.active_jobs) - 1
        self.progress.idle(f"Queued ({waiting} ahead)" if waiting else "Starting…")

    @Slot(str, int)
    def _on_waiting(self, job_id: str, position: int) -> None:
        self.progress.waiting(position)

    @Slot(str)
    def _on_started(self, job_id: str) -> None:
        self.progress.update_progress(None, "Starting…", None)

    @Slot(str, object, str, object)
    def _on_progress(self, job_id: str, fraction: Any, message: str, eta: Any) -> None:
        self.progress.update_progress(fraction, message, eta)

    @Slot(str, str)
    def _on_text(self, job_id: str, text: str) -> None:
        self.show_text(text)

    @Slot(str, bytes, str)
    def _on_preview(self, job_id: str, data: bytes, media_type: str) -> None:
        self.show_preview(data, media_type)

    def _job_ended(self, job_id: str) -> None:
        self.cancel_button.setEnabled(self.runner.busy)

    @Slot(str, object)
    def _on_finished(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._job_ended(job_id)
        if asset_ids:
            self.show_last_result(asset_ids)
        count = len(asset_ids)
        self.progress.idle(
            f"Done: {count} asset{'s' if count != 1 else ''} saved to {self.session.display_name}"
        )
        self._show_new_verdicts()

    @Slot(str, str)
    def _on_failed(self, job_id: str, message: str) -> None:
        self._job_ended(job_id)
        self.progress.idle("Failed")
        self.error_banner.show_message(message)
        self._show_new_verdicts()

    def _show_new_verdicts(self) -> None:
        """A job ran an engine's first check here: show what it found (an engine that fails is
        greyed and no longer the default), keeping the options the user set."""
        if self._spec is None or self._verdicts(self._spec) == self._verdicts_shown:
            return
        plugin_id = self._spec.id
        load = self.load_form.values() if self.load_form is not None else {}
        run = self.run_form.values() if self.run_form is not None else {}
        self.refresh_plugins()
        if self.current_plugin_id() == plugin_id:
            if self.load_form is not None:
                self.load_form.set_values(load)
            if self.run_form is not None:
                self.run_form.set_values(run)

    @Slot(str)
    def _on_stopped_by_force(self, job_id: str) -> None:
        self._forced_stop = job_id

    @Slot(str, object)
    def _on_cancelled(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._job_ended(job_id)
        kept = f" ({len(asset_ids)} finished and kept)" if asset_ids else ""
        if self._forced_stop == job_id:
            self._forced_stop = None
            self.progress.idle(f"Cancelled: stopped by force{kept}")
            self.error_banner.show_message(
                "The model did not stop when asked, so its process was ended; the next run "
                "starts it again (and loads the model again)."
            )
        else:
            self.progress.idle(f"Cancelled{kept}")

    # opening assets ------------------------------------------------------------------------

    def show_last_result(self, asset_ids: tuple[str, ...]) -> None:
        """Show the last asset a job kept, with the bytes its sink committed when they are at
        hand (a take or a picture is not read back from the project)."""
        last, self._last_result = self._last_result, None
        data = last[1] if last is not None and last[0] == asset_ids[-1] else None
        self.open_asset(asset_ids[-1], restore_settings=False, data=data)

    def open_asset(
        self, asset_id: str, restore_settings: bool = True, data: bytes | None = None
    ) -> None:
        """Show an asset (``data``: its content, when known already); with
        ``restore_settings``, also fill in the recipe that made it."""
        asset = self.session.asset(asset_id)
        self.show_asset(asset, self.session.store.read_blob(asset_id) if data is None else data)
        if restore_settings:
            self.restore_recipe(asset)
        self.asset_shown.emit(asset_id)

    def restore_recipe(self, asset: Asset) -> list[str]:
        """Fill plugin, options and request from the asset's recipe; returns what was not used."""
        recipe = asset.recipe
        if recipe.origin is not RecipeOrigin.GENERATED or recipe.panel is not self.panel:
            return []
        ignored: list[str] = []
        if not self.select_plugin(recipe.plugin_id):
            return [f"plugin {recipe.plugin_id} (not installed)"]
        if self.load_form is not None:
            ignored += self.load_form.set_values(thaw_json(recipe.load_options))
        if self.run_form is not None:
            ignored += self.run_form.set_values(thaw_json(recipe.run_options))
        self.set_request_fields(thaw_json(recipe.request))
        inputs = self.file_inputs()
        for link in recipe.inputs:
            if link.role in inputs:
                inputs[link.role].set_asset(link.asset_id)
        return ignored
