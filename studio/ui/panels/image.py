"""The Image panel: prompt boxes, input images, a canvas with zoom, pan and a mask brush,
previews while a job runs, and a strip of recent results.

What the request area shows follows the picked plugin's declared inputs
(:attr:`~studio.plugin_api.ModelSpec.inputs`): the init image field always (text-to-image
plugins ignore it when empty), a style image field only for plugins with a ``style`` slot, and
the mask brush only for plugins with a ``mask`` slot. The mask is painted over the init image
in the canvas and sent as a black-and-white PNG of the init image's size, input role ``mask``
(imported into the project with the init image, so both are the result's lineage).

A plugin that needs a model the user must bring (a ``model`` option and no embedded model)
shows a note with Import model… until one is chosen.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.image_settings import RestoredSettings, from_recipe, read_image_settings
from studio.core.media.importing import read_media_file
from studio.core.pipeline import Draft
from studio.core.project.assets import Asset
from studio.plugin_api import AssetKind, ModelSpec, Panel
from studio.ui.file_dialogs import choose_file, choose_folder
from studio.ui.image_canvas import ImageCanvas
from studio.ui.panels.base import PanelWidget
from studio.ui.settings_restore import apply_restored_settings
from studio.ui.widgets import FileInput

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
RECENT_LIMIT = 40
THUMBNAIL = 72


class ImagePanel(PanelWidget):
    panel = Panel.IMAGE

    def output_title(self) -> str:
        return "Image"

    # the request area -------------------------------------------------------------------------

    def build_request_area(self, layout: QVBoxLayout) -> None:
        self._mask_dir: tempfile.TemporaryDirectory[str] | None = None
        self._mask_files = 0
        self._setting_mask_file = False

        self.model_note = QFrame()
        self.model_note.setObjectName("model-note")
        self.model_note.setStyleSheet(
            "#model-note { background: palette(alternate-base); border: 1px solid palette(mid);"
            " border-radius: 4px; }"
        )
        note_layout = QHBoxLayout(self.model_note)
        note_layout.setContentsMargins(8, 4, 4, 4)
        self.model_note_label = QLabel(
            "No model imported. This plugin needs a model you bring: import a model folder "
            "(Stable Diffusion or SDXL, diffusers layout)."
        )
        self.model_note_label.setWordWrap(True)
        self.import_button = QToolButton()
        self.import_button.setObjectName("import-model")
        self.import_button.setText("Import model…")
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.import_button)
        menu.addAction("Model folder…", self.import_model_folder)
        menu.addAction("Single model file…", self.import_model_file)
        self.import_button.setMenu(menu)
        note_layout.addWidget(self.model_note_label, 1)
        note_layout.addWidget(self.import_button, 0, Qt.AlignmentFlag.AlignTop)
        self.model_note.hide()

        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("prompt")
        self.prompt.setPlaceholderText("What to draw… (Ctrl+Enter runs)")
        self.negative = QLineEdit()
        self.negative.setObjectName("negative-prompt")
        self.negative.setPlaceholderText("What to avoid (negative prompt)")
        self.init_input = FileInput("Init image", IMAGE_FILTER, self.model, "init")
        self.init_input.setObjectName("input-init")
        self.init_input.changed.connect(self._init_changed)
        self.style_input = FileInput("Style image", IMAGE_FILTER, self.model, "style")
        self.style_input.setObjectName("input-style")
        self.style_input.hide()
        # Carries the painted mask to the job (never shown: the canvas is the mask's editor).
        self.mask_input = FileInput("Mask", IMAGE_FILTER, self.model, "mask", self)
        self.mask_input.setVisible(False)
        self.mask_input.changed.connect(self._mask_input_changed)
        # What a dropped PNG's settings restored, and what not (until the next run).
        self.restore_note = QLabel()
        self.restore_note.setObjectName("restore-note")
        self.restore_note.setWordWrap(True)
        self.restore_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.restore_note.hide()
        layout.addWidget(self.model_note)
        layout.addWidget(self.restore_note)
        layout.addWidget(self.prompt, 1)
        layout.addWidget(self.negative)
        layout.addWidget(self.init_input)
        layout.addWidget(self.style_input)
        self.bind_text("prompt", self.prompt)
        self.bind_text("negative_prompt", self.negative)
        self.setAcceptDrops(True)

    # the output area --------------------------------------------------------------------------

    def build_output_area(self, layout: QVBoxLayout) -> None:
        self._shown_asset: str | None = None
        self.canvas = ImageCanvas()
        self.view = self.canvas  # the name other code and tests know the output view by
        self.canvas.placeholder = "Results appear here."
        self.canvas.view_changed.connect(self._show_zoom)
        self.canvas.mask_changed.connect(self._show_mask_state)

        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the image into view (double-click the image)")
        self.fit_button.clicked.connect(self.canvas.fit)
        self.actual_button = QToolButton()
        self.actual_button.setText("1:1")
        self.actual_button.setToolTip("Show the image at its own size (mouse wheel zooms)")
        self.actual_button.clicked.connect(lambda: self.canvas.set_zoom(1.0))
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(48)

        self.mask_tools = QWidget()
        tools = QHBoxLayout(self.mask_tools)
        tools.setContentsMargins(0, 0, 0, 0)
        self.paint_button = QToolButton()
        self.paint_button.setObjectName("paint-mask")
        self.paint_button.setText("Paint mask")
        self.paint_button.setCheckable(True)
        self.paint_button.setToolTip(
            "Paint the area to repaint over the init image (inpainting). "
            "Shift-drag or the middle button pans while painting."
        )
        self.paint_button.toggled.connect(self.set_painting)
        self.eraser_button = QToolButton()
        self.eraser_button.setText("Eraser")
        self.eraser_button.setCheckable(True)
        self.eraser_button.setToolTip("Take paint away from the mask")
        self.eraser_button.toggled.connect(self._eraser_toggled)
        self.brush_size = QSpinBox()
        self.brush_size.setObjectName("brush-size")
        self.brush_size.setRange(1, 512)
        self.brush_size.setValue(self.canvas.brush_size)
        self.brush_size.setSuffix(" px")
        self.brush_size.setToolTip("Brush size, in pixels of the init image")
        self.brush_size.valueChanged.connect(self._brush_size_changed)
        self.clear_mask_button = QToolButton()
        self.clear_mask_button.setText("Clear mask")
        self.clear_mask_button.clicked.connect(self.canvas.clear_mask)
        for widget in (self.paint_button, self.eraser_button, self.brush_size):
            tools.addWidget(widget)
        tools.addWidget(self.clear_mask_button)
        self.mask_tools.hide()

        toolbar = QHBoxLayout()
        toolbar.addWidget(self.fit_button)
        toolbar.addWidget(self.actual_button)
        toolbar.addWidget(self.zoom_label)
        toolbar.addStretch(1)
        toolbar.addWidget(self.mask_tools)

        self.caption = QLabel()
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_as_init_button = QPushButton("Use as init image")
        self.use_as_init_button.setToolTip("Start image-to-image or inpainting from this image")
        self.use_as_init_button.clicked.connect(self.use_shown_as_init)
        self.use_as_init_button.setEnabled(False)
        caption_row = QHBoxLayout()
        caption_row.addWidget(self.caption, 1)
        caption_row.addWidget(self.use_as_init_button)

        self.recent = QListWidget()
        self.recent.setObjectName("recent-results")
        self.recent.setViewMode(QListView.ViewMode.IconMode)
        self.recent.setFlow(QListView.Flow.LeftToRight)
        self.recent.setWrapping(False)
        self.recent.setMovement(QListView.Movement.Static)
        self.recent.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.recent.setFixedHeight(THUMBNAIL + 36)
        self.recent.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent.setSpacing(4)
        self.recent.hide()  # shown with the first result: no empty box before
        self.recent.setStyleSheet(
            "#recent-results::item { border: 2px solid transparent; padding: 1px; }"
            "#recent-results::item:selected { border: 2px solid palette(highlight);"
            " background: transparent; }"
        )
        self.recent.setToolTip("Recent results: click to show, double-click to use its settings")
        self.recent.itemClicked.connect(self._recent_clicked)
        self.recent.itemDoubleClicked.connect(self._recent_double_clicked)

        layout.addLayout(toolbar)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(caption_row)
        layout.addWidget(self.recent)
        self.runner.asset_saved.connect(self._asset_saved)
        self._show_zoom()

    # plugin hooks -----------------------------------------------------------------------------

    def file_inputs(self) -> dict[str, FileInput]:
        widgets = {"init": self.init_input, "style": self.style_input, "mask": self.mask_input}
        return {role: widgets[role] for role in self.model.input_roles() if role in widgets}

    def _slot(self, role: str) -> bool:
        return self.model.input_slot(role) is not None

    def request_title(self) -> str:
        spec = getattr(self, "model", None) and self.model.spec
        return "Prompt" if not spec or spec.reads("prompt") else "Picture"

    def init_words(self) -> str:
        """What the plugin calls the picture it starts from ("init image", "image")."""
        return self.model.input_label("init", "Init image").lower()

    def plugin_selected(self, spec: ModelSpec | None) -> None:
        for role, field, title in (
            ("init", self.init_input, "Init image"),
            ("style", self.style_input, "Style image"),
        ):
            slot = self.model.input_slot(role)
            field.setToolTip(slot.description if slot is not None else "")
            field.set_title(self.model.input_label(role, title))
        self.style_input.setVisible(self._slot("style"))
        # Upscalers and style transfer read no prompt: no boxes that would do nothing.
        reads_prompt = spec is None or spec.reads("prompt")
        self.prompt.setVisible(reads_prompt)
        self.negative.setVisible(spec is None or spec.reads("negative_prompt"))
        # Without a prompt, the picture fields sit at the top; the room goes below them.
        self.set_request_stretch(self.request_stretch() if reads_prompt else 0)
        words = self.init_words()
        self.use_as_init_button.setText(f"Use as {words}")
        self.use_as_init_button.setToolTip(
            "Start image-to-image or inpainting from this image"
            if self._slot("mask")
            else f"Use this result as the {words} of the next run"
        )
        self.canvas.placeholder = (
            f"Results appear here. Drop a picture on the panel to use it as the {words}."
        )
        self.canvas.update()
        has_mask = self._slot("mask")
        self.mask_tools.setVisible(has_mask)
        if not has_mask:
            self.paint_button.setChecked(False)
        if self.options is not None:
            self.options.changed.connect(self._update_model_note)
        if self.run_form is not None:
            for name in ("width", "height"):
                editor = self.run_form.editors.get(name)
                widget = editor.widget if editor is not None else None
                if isinstance(widget, QSpinBox) and widget.minimum() == 0:
                    widget.setSpecialValueText("model's size")  # 0: the model's own size
        self._update_model_note()

    # models -----------------------------------------------------------------------------------

    def needs_model(self) -> bool:
        """The picked plugin needs a model the user brings, and none is chosen."""
        return self.model.needs_model()

    @Slot()
    def _update_model_note(self) -> None:
        self.model_note.setVisible(self.needs_model())

    def set_model(self, value: str) -> None:
        """Use an imported model folder or file (listed in the picker from now on)."""
        if self.load_form is not None and "model" in self.load_form.editors:
            picker = self.load_form.editors["model"].widget
            if hasattr(picker, "import_path"):
                picker.import_path(value)
            else:
                self.load_form.editors["model"].put(value)
            self._update_model_note()

    def import_model_folder(self) -> None:
        folder = choose_folder(
            self,
            self.services.recent_folders,
            "import-model",
            "Import a model folder (the folder with model_index.json)",
        )
        if folder is not None:
            self.set_model(str(folder))

    def import_model_file(self) -> None:
        path = choose_file(
            self,
            self.services.recent_folders,
            "import-model",
            "Import a model file",
            "Model files (*.safetensors *.ckpt *.gguf *.onnx);;All files (*)",
        )
        if path is not None:
            self.set_model(str(path))

    # running ----------------------------------------------------------------------------------

    def build_draft(self) -> Draft:
        if not self.needs_model():
            self._export_mask()
        return super().build_draft()

    def _export_mask(self) -> None:
        """Put the painted mask into the mask input as a PNG file (or empty it)."""
        self._setting_mask_file = True
        try:
            if not self._slot("mask") or not self.canvas.has_mask() or not self._has_init():
                self.mask_input.clear()
                return
            init = self.init_image()
            if init.isNull() or self.canvas.mask_size() != init.size():
                raise UserError("The mask was painted on another image: paint it again.")
            if self._mask_dir is None:
                self._mask_dir = tempfile.TemporaryDirectory(prefix="studio-mask-")
            self._mask_files += 1
            path = Path(self._mask_dir.name) / f"mask-{self._mask_files}.png"
            path.write_bytes(self.canvas.mask_png())
            self.mask_input.set_path(path)
        finally:
            self._setting_mask_file = False

    def clear_output(self) -> None:
        self.restore_note.hide()
        self.paint_button.setChecked(False)  # previews are shown while the job runs
        self.caption.setText("")

    def show_preview(self, data: bytes, media_type: str) -> None:
        image = QImage.fromData(data)
        if not image.isNull():
            self.canvas.set_image(image)
            self.caption.setText(f"Preview ({image.width()}×{image.height()} latent)")

    def show_asset(self, asset: Asset, data: bytes) -> None:
        image = QImage.fromData(data)
        if image.isNull():
            self.model.show_error(f"“{asset.title}” cannot be shown as an image.")
            return
        self.paint_button.setChecked(False)
        self.canvas.set_image(image)
        self._shown_asset = asset.id
        self.use_as_init_button.setEnabled(True)
        seed = asset.recipe.seed
        self.caption.setText(
            f"{asset.title} · {image.width()}×{image.height()}"
            + (f" · seed {seed}" if seed is not None else "")
        )
        self._remember(asset.id, image, asset.title)

    @Slot(str, str)
    def _asset_saved(self, job_id: str, asset_id: str) -> None:
        try:
            data = self.session.store.read_blob(asset_id)
            asset = self.session.asset(asset_id)
        except Exception:  # the project was closed meanwhile: nothing to show
            return
        self._remember(asset_id, QImage.fromData(data), asset.title)

    def restore_recipe(self, asset: Asset) -> list[str]:
        ignored = super().restore_recipe(asset)
        if asset.kind is AssetKind.IMAGE and self._shown_asset != asset.id:
            # Restoring the init image showed it; the asset asked for is what stays in view.
            self.show_asset(asset, self.session.store.read_blob(asset.id))
        return ignored

    # recent results -----------------------------------------------------------------------------

    def _remember(self, asset_id: str, image: QImage, title: str) -> None:
        for row in range(self.recent.count()):
            item = self.recent.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == asset_id:
                self.recent.setCurrentItem(item)
                return
        if image.isNull():
            return
        thumbnail = image.scaled(
            THUMBNAIL,
            THUMBNAIL,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        picture = QPixmap.fromImage(thumbnail)
        icon = QIcon(picture)
        icon.addPixmap(picture, QIcon.Mode.Selected)  # the border says selected, not a tint
        item = QListWidgetItem(icon, "")
        item.setData(Qt.ItemDataRole.UserRole, asset_id)
        item.setToolTip(f"{title} ({image.width()}×{image.height()})")
        self.recent.insertItem(0, item)
        self.recent.setCurrentItem(item)
        self.recent.show()
        while self.recent.count() > RECENT_LIMIT:
            self.recent.takeItem(self.recent.count() - 1)

    def recent_asset_ids(self) -> list[str]:
        return [
            self.recent.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.recent.count())
        ]

    @Slot(QListWidgetItem)
    def _recent_clicked(self, item: QListWidgetItem) -> None:
        self._open_recent(item, restore_settings=False)

    @Slot(QListWidgetItem)
    def _recent_double_clicked(self, item: QListWidgetItem) -> None:
        self._open_recent(item, restore_settings=True)

    def _open_recent(self, item: QListWidgetItem, restore_settings: bool) -> None:
        asset_id = item.data(Qt.ItemDataRole.UserRole)
        try:
            self.open_asset(asset_id, restore_settings=restore_settings)
        except Exception:
            self.model.show_error("That result is no longer in the project.")
            self.recent.takeItem(self.recent.row(item))
            self.recent.setVisible(self.recent.count() > 0)

    def use_shown_as_init(self) -> None:
        if self._shown_asset is not None:
            self.init_input.set_asset(self._shown_asset)

    # init image and mask ------------------------------------------------------------------------

    def _has_init(self) -> bool:
        return self.init_input.path is not None or self.init_input.asset_id is not None

    def init_image(self) -> QImage:
        """The init image as chosen (a file or a project asset); null when there is none."""
        if self.init_input.path is not None:
            return QImage(str(self.init_input.path))
        if self.init_input.asset_id is not None:
            try:
                return QImage.fromData(self.session.store.read_blob(self.init_input.asset_id))
            except Exception:
                return QImage()
        return QImage()

    @Slot()
    def _init_changed(self) -> None:
        image = self.init_image()
        if image.isNull():
            self.paint_button.setChecked(False)
            self._show_mask_state()
            return
        if self._slot("mask") and self.canvas.ensure_mask(image.size()):
            self.model.set_status("The mask was cleared: the new init image has another size.")
        self.canvas.set_image(image)
        self._shown_asset = None
        self.use_as_init_button.setEnabled(False)
        self.caption.setText(f"{self.init_words().capitalize()} · {image.width()}×{image.height()}")

    @Slot()
    def _mask_input_changed(self) -> None:
        # A recipe's mask (restored from a result) goes into the canvas.
        if self._setting_mask_file or self.mask_input.asset_id is None:
            return
        try:
            mask = QImage.fromData(self.session.store.read_blob(self.mask_input.asset_id))
        except Exception:
            return
        if not mask.isNull():
            self.canvas.set_mask(mask)

    @Slot(bool)
    def set_painting(self, on: bool) -> None:
        if on:
            init = self.init_image()
            if init.isNull():
                self.paint_button.setChecked(False)
                self.model.show_error(
                    "Choose or drop an init image first: the mask is painted over it."
                )
                return
            self.canvas.ensure_mask(init.size())
            self.canvas.set_image(init, keep_view=True)
            self.caption.setText(
                f"Painting the mask over the init image ({init.width()}×{init.height()})"
            )
        self.canvas.painting = on
        self.canvas.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.canvas.update()
        self._show_mask_state()

    @Slot(bool)
    def _eraser_toggled(self, on: bool) -> None:
        self.canvas.eraser = on

    @Slot(int)
    def _brush_size_changed(self, size: int) -> None:
        self.canvas.brush_size = size
        self.canvas.update()

    @Slot()
    def _show_mask_state(self) -> None:
        painted = self.canvas.has_mask()
        self.clear_mask_button.setEnabled(painted)
        self.paint_button.setText("Paint mask" + (" ●" if painted else ""))
        self.paint_button.setToolTip(
            ("A mask is painted: Run inpaints it. " if painted else "")
            + "Paint the area to repaint over the init image (inpainting). "
            "Shift-drag or the middle button pans while painting."
        )

    @Slot()
    def _show_zoom(self) -> None:
        self.zoom_label.setText(f"{self.canvas.zoom() * 100:.0f}%")

    # dropping an image --------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if (
            len(urls) == 1
            and urls[0].isLocalFile()
            and Path(urls[0].toLocalFile()).suffix.lower() in IMAGE_SUFFIXES
        ):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = Path(event.mimeData().urls()[0].toLocalFile())
        restored = _settings_in(path)
        if restored is not None:
            self.restore_settings(restored)
        else:
            self.open_init_file(path)
        event.acceptProposedAction()

    def file_drop_message(self, paths: list[Path]) -> str:
        if len(paths) == 1 and _settings_in(paths[0]) is not None:
            return f"Drop to restore the settings {paths[0].name} was made with"
        return f"Drop to use {paths[0].name} as the {self.init_words()}"

    def restore_settings(self, restored: RestoredSettings) -> str:
        """Fill the panel from settings read from an image; shows and returns the summary."""
        summary = apply_restored_settings(self, restored)
        self.restore_note.setText(summary)
        self.restore_note.show()
        self.model.clear_error()
        return summary

    def restore_from_asset(self, asset: Asset) -> str:
        """ "Use these settings" on an image asset: its recipe when Studio made it here,
        otherwise the settings inside the picture (an A1111 or ComfyUI PNG imported)."""
        if asset.recipe.panel is Panel.IMAGE and asset.recipe.plugin_id:
            return self.restore_settings(from_recipe(asset.recipe))
        try:
            restored = read_image_settings(self.session.store.read_blob(asset.id))
        except UserError as exc:
            self.model.show_error(str(exc))
            return str(exc)
        if restored is None:
            message = f"{asset.title} carries no settings to restore."
            self.model.show_error(message)
            return message
        return self.restore_settings(restored)

    def open_init_file(self, path: Path) -> bool:
        """Use an image file as the init image (checked completely first)."""
        try:
            media = read_media_file(path)
            if media.kind is not AssetKind.IMAGE:
                raise UserError(f"{path.name} is not an image.")
        except UserError as exc:
            self.model.show_error(str(exc))
            return False
        self.model.clear_error()
        self.init_input.set_path(path)
        return True


_MAX_SETTINGS_FILE = 64 << 20


SETTINGS_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def _settings_in(path: Path) -> RestoredSettings | None:
    """The settings inside a PNG, JPEG or WebP file, or None (another kind of file, none
    inside, unreadable). A drag asks on entering and again on the drop: the file is read once
    while it is unchanged."""
    if path.suffix.lower() not in SETTINGS_SUFFIXES:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    if stat.st_size > _MAX_SETTINGS_FILE:
        return None
    return _read_settings(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_settings(path: str, mtime_ns: int, size: int) -> RestoredSettings | None:
    try:
        return read_image_settings(Path(path).read_bytes())
    except (OSError, UserError):
        return None
