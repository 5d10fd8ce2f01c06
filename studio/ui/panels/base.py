"""The shape every panel shares, bound to its :class:`~studio.qt.panel_model.PanelModel`:
plugin picker, options, Run/Cancel, progress with ETA, an output area, and an error banner.

The widgets hold no state of their own: what the user changes goes into the model, and what
the model says (the plugin's options, a restored recipe, the job's progress, results, errors)
comes back through its signals. A panel subclass adds its request editor (what to make, bound
with :meth:`PanelWidget.bind_text`) and its output view (what was made). Drops are handled by
:class:`~studio.ui.panels.drops.PanelDrops`.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.pipeline import Draft, PreparedJob
from studio.core.project.assets import Asset
from studio.core.services import CoreServices
from studio.plugin_api import ModelSpec, Panel
from studio.qt.panel_jobs import PanelJobRunner
from studio.qt.panel_model import FoundModel, PanelModel
from studio.qt.project_session import ProjectSession
from studio.ui.drop_overlay import DropOverlay
from studio.ui.options_form import OptionsForm, PanelOptions
from studio.ui.panels.drops import PanelDrops
from studio.ui.widgets import ErrorBanner, FileInput, JobProgress

log = logging.getLogger(__name__)

CONTROLS_WIDTH = 400
"""The least width of the request and options column: the options form and the model picker
fit without a sideways scroll."""


class PanelWidget(PanelDrops, QWidget):
    """Base of the four panels. Subclasses implement the ``build_*`` hooks."""

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
        self.model = PanelModel(self.panel, services, session, runner, self)
        self.options: PanelOptions | None = None
        self._prepared = False
        self._filling = False  # the editors are being filled from the model

        self.error_banner = ErrorBanner()
        self.plugin_combo = QComboBox()
        self.plugin_combo.setObjectName("plugin-picker")
        self.plugin_combo.setMinimumContentsLength(24)
        self.plugin_combo.currentIndexChanged.connect(self._plugin_picked)
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

        # The request and the options scroll together: neither is squeezed into a sliver.
        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 4, 0)
        picker = QFormLayout()
        picker.addRow("Plugin", self.plugin_combo)
        controls_layout.addLayout(picker)
        controls_layout.addWidget(self.plugin_note)
        self.request_box = QGroupBox(self.request_title())
        self.request_layout = QVBoxLayout(self.request_box)
        self.build_request_area(self.request_layout)
        controls_layout.addWidget(self.request_box, self.request_stretch())
        self.options_box = QGroupBox("Options")
        self.options_layout = QVBoxLayout(self.options_box)
        controls_layout.addWidget(self.options_box)
        controls_layout.addStretch(0)
        self._controls_layout = controls_layout
        controls_scroll = QScrollArea()
        controls_scroll.setObjectName("panel-controls")
        controls_scroll.setWidgetResizable(True)
        controls_scroll.setWidget(controls)
        controls_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        controls_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        controls_scroll.setMinimumWidth(CONTROLS_WIDTH)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(controls_scroll, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.run_button)
        left_layout.addLayout(buttons)

        output = QGroupBox(self.output_title())
        output_layout = QVBoxLayout(output)
        self.build_output_area(output_layout)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(output)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
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

        model = self.model
        model.plugins_changed.connect(self._show_plugins)
        model.plugin_changed.connect(self._show_plugin)
        model.library_changed.connect(self._show_found_models)
        model.options_changed.connect(self._show_options)
        model.error_changed.connect(self._show_error)
        model.status_changed.connect(self.progress.idle)
        model.waiting_changed.connect(self.progress.waiting)
        model.progress_changed.connect(self._on_progress)
        model.busy_changed.connect(self._show_busy)
        model.text_received.connect(self.show_text)
        model.preview_received.connect(self.show_preview)
        model.job_started.connect(self._on_started)
        model.job_finished.connect(self._on_finished)
        model.job_failed.connect(self._on_failed)
        model.job_cancelled.connect(self._on_cancelled)
        self.error_banner.dismissed.connect(model.clear_error)
        self._show_error(model.error)  # one said while the panel was being built
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
        """How much of the height the request area takes, against 0 for the options."""
        return 1

    def output_title(self) -> str:
        return "Result"

    def set_request_stretch(self, stretch: int) -> None:
        """Let the request area take the free height (``stretch`` > 0), or leave it below."""
        layout = self._controls_layout
        layout.setStretchFactor(self.request_box, stretch)
        layout.setStretch(layout.count() - 1, 0 if stretch else 1)

    def build_request_area(self, layout: QVBoxLayout) -> None:
        raise NotImplementedError

    def build_output_area(self, layout: QVBoxLayout) -> None:
        raise NotImplementedError

    def file_inputs(self) -> dict[str, FileInput]:
        """Input widgets by role (``init``, ``image``...), for drops."""
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

    # binding editors -------------------------------------------------------------------------

    def bind_text(self, name: str, editor: QPlainTextEdit | QLineEdit) -> None:
        """A request field's editor: what is typed goes into the model's field, and a field
        set in the model (a recipe restored) shows in the editor."""
        plain = isinstance(editor, QPlainTextEdit)

        def text() -> str:
            return editor.toPlainText() if plain else editor.text()

        def typed() -> None:
            if not self._filling:
                self.model.set_field(name, text())

        def restored() -> None:
            value = self.model.fields.get(name)
            if isinstance(value, str) and value != text():
                editor.setPlainText(value) if plain else editor.setText(value)

        editor.textChanged.connect(typed)
        self.model.fields_changed.connect(restored)
        self.model.set_field(name, text())

    # plugins -------------------------------------------------------------------------------

    @property
    def load_form(self) -> OptionsForm | None:
        return self.options.load_form if self.options is not None else None

    @property
    def run_form(self) -> OptionsForm | None:
        return self.options.run_form if self.options is not None else None

    @property
    def current_job(self) -> str | None:
        return self.model.current_job

    def refresh_plugins(self) -> None:
        """Fill the plugin picker from the registry (after discovery); see
        :meth:`PanelModel.refresh_plugins`."""
        self.model.refresh_plugins()

    def current_plugin_id(self) -> str | None:
        return self.model.plugin_id

    def select_plugin(self, plugin_id: str) -> bool:
        """Pick a plugin as the user would; a greyed one cannot be picked."""
        return self.model.select_plugin(plugin_id)

    @Slot()
    def _show_plugins(self) -> None:
        self.plugin_combo.blockSignals(True)
        self.plugin_combo.clear()
        for index, choice in enumerate(self.model.plugins):
            self.plugin_combo.addItem(choice.label, choice.plugin_id)
            self.plugin_combo.setItemData(index, choice.tooltip, Qt.ItemDataRole.ToolTipRole)
            if not choice.usable:
                self.plugin_combo.model().item(index).setEnabled(False)
        self.plugin_combo.setEnabled(any(c.plugin_id for c in self.model.plugins))
        self.plugin_combo.blockSignals(False)

    @Slot(int)
    def _plugin_picked(self, index: int) -> None:
        plugin_id = self.plugin_combo.itemData(index)
        if isinstance(plugin_id, str) and not self.model.select_plugin(plugin_id):
            self._show_plugin()  # not usable: the picker shows the model's plugin again

    @Slot()
    def _show_plugin(self) -> None:
        model = self.model
        index = self.plugin_combo.findData(model.plugin_id) if model.plugin_id else -1
        self.plugin_combo.blockSignals(True)
        self.plugin_combo.setCurrentIndex(max(index, 0))
        self.plugin_combo.blockSignals(False)
        if self.options is not None:
            self.options.setParent(None)
            self.options.deleteLater()
            self.options = None
        spec = model.spec
        self.plugin_note.setText(model.plugin_note)
        self.run_button.setEnabled(spec is not None)
        if spec is None:
            self.options_box.setVisible(False)
            self.plugin_selected(None)
            return
        choices = model.model_choices()
        self.options = PanelOptions(
            spec.load_options,
            spec.run_options,
            known_models=spec.models,
            imported_models=list(choices.imported),
            on_import=model.remember_model,
            unusable_models=dict(choices.unusable),
            default_model=choices.default_model,
            recent_folders=self.services.recent_folders,
        )
        self._show_found_models(choices.found)
        self.options_layout.addWidget(self.options)
        self.options_box.setVisible(bool(self.options.editors))
        self._show_options()
        self.options.changed.connect(self._options_edited)
        self._options_edited()
        self.request_box.setTitle(self.request_title())
        self.plugin_selected(spec)
        if self.isVisible():
            model.warm_up()

    @Slot()
    def _show_found_models(self, found: tuple[FoundModel, ...] | None = None) -> None:
        """The library's models in the model picker and its LoRAs in the LoRA menu (after
        each scan of the library; ``found`` when the caller has them already)."""
        if self.options is None:
            return
        picker = self.options.model_picker
        if picker is not None:
            picker.set_found(self.model.model_choices().found if found is None else found)
        loras = self.options.lora_editor
        if loras is not None:
            loras.set_loras(self.model.lora_names())

    @Slot()
    def _options_edited(self) -> None:
        if self.options is not None and not self._filling:
            self.model.set_options(self.options.load_form.values(), self.options.run_form.values())

    @Slot()
    def _show_options(self) -> None:
        if self.options is None:
            return
        self._filling = True
        try:
            for form, values in (
                (self.options.load_form, self.model.load_options),
                (self.options.run_form, self.model.run_options),
            ):
                form.reset()
                form.set_values(values)
        finally:
            self._filling = False

    @Slot(str)
    def _show_error(self, message: str) -> None:
        if message:
            self.error_banner.show_message(message)
        else:
            self.error_banner.hide()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.model.plugin_id and not self._prepared:
            self._prepared = True
            self.model.warm_up()

    # running -------------------------------------------------------------------------------

    def build_draft(self) -> Draft:
        """What the user asked for (:meth:`PanelModel.build_draft`)."""
        return self.model.build_draft()

    def imported_input(self, role: str) -> str | None:
        """The project asset that the input file ``role`` of the last job became (committed
        with its first result), or None."""
        return self.model.stored_inputs.get(role)

    @Slot()
    def run(self) -> None:
        if not self.run_button.isEnabled() and self.current_plugin_id() is None:
            return
        self.model.clear_error()
        try:
            draft = self.build_draft()
        except UserError as exc:
            self.model.show_error(str(exc))
            return
        prepared = self.model.prepare(draft)
        if prepared is not None:
            self.submit(prepared)

    def submit(self, prepared: PreparedJob) -> str:
        """Queue a prepared job on this panel (Run, and a re-run from the asset browser)."""
        self.clear_output()
        return self.model.submit(prepared)

    @Slot()
    def cancel(self) -> None:
        self.model.cancel()

    # model signals -------------------------------------------------------------------------

    @Slot(bool)
    def _show_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)

    @Slot(str)
    def _on_started(self, job_id: str) -> None:
        """The job left the queue (the model says "Starting…" in its progress)."""

    @Slot(str, object, str, object)
    def _on_progress(self, job_id: str, fraction: Any, message: str, eta: Any) -> None:
        self.progress.update_progress(fraction, message, eta)

    def _job_ended(self, job_id: str) -> None:
        """A job finished, failed or was cancelled (the model has said how)."""

    @Slot(str, object)
    def _on_finished(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._job_ended(job_id)
        if asset_ids:
            self.show_last_result(asset_ids)

    @Slot(str, str)
    def _on_failed(self, job_id: str, message: str) -> None:
        self._job_ended(job_id)  # the model shows the error

    @Slot(str, object)
    def _on_cancelled(self, job_id: str, asset_ids: tuple[str, ...]) -> None:
        self._job_ended(job_id)  # the model says what was kept

    # opening assets ------------------------------------------------------------------------

    def show_last_result(self, asset_ids: tuple[str, ...]) -> None:
        """Show the last asset a job kept, with the bytes its sink committed when they are at
        hand (a take or a picture is not read back from the project)."""
        data = self.model.last_result_data(asset_ids[-1])
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
        """Fill plugin, options and request from the asset's recipe; returns what was not
        used, by label."""
        return self.model.restore_recipe(asset)
