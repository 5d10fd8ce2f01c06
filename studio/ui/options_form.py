"""A form built from a plugin's typed options: the right editor for each type, with tooltips,
ranges, defaults and a reset.

Plugins never describe widgets; they declare typed options (``studio.plugin_api.options``) and
this module picks the editor. Advanced options go into a folded section.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.recent_folders import RecentFolders
from studio.plugin_api import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    KnownModel,
    LoraOption,
    LoraUse,
    ModelOption,
    Option,
    OptionSet,
    SeedOption,
    TextOption,
)
from studio.qt.panel_model import FoundModel
from studio.ui.file_dialogs import choose_file, choose_folder

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
SEED_LIMIT = 2**53  # a double holds every whole number up to here
PREVIEW_SIZE = 64  # a choice's picture in a drop-down (a style's thumbnail)


def tooltip_for(option: Option) -> str:
    """The description, then the range and the default, as people expect from a tooltip."""
    parts = [option.description] if option.description else []
    minimum = getattr(option, "minimum", None)
    maximum = getattr(option, "maximum", None)
    if minimum is not None or maximum is not None:
        parts.append(
            f"Range: {minimum if minimum is not None else '…'} to "
            f"{maximum if maximum is not None else '…'}."
        )
    default = option.default if option.default != "" else "(empty)"
    parts.append(f"Default: {default}.")
    return "\n".join(parts)


class _Editor:
    """One option's editor: get/set a value and report changes."""

    def __init__(self, option: Option, widget: QWidget, get, put, changed) -> None:
        self.option, self.widget, self.get, self.put, self.changed = (
            option,
            widget,
            get,
            put,
            changed,
        )


class _SeedEditor(QWidget):
    """A seed spin box with a dice button (new random seed) and -1 meaning random.

    Seeds go to 2**32 - 1, past what a ``QSpinBox`` (a C int) holds: a spin box of whole
    doubles holds them exactly (to 2**53)."""

    def __init__(self, option: SeedOption) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(0)
        self.spin.setRange(
            max(option.minimum or -1, -1), min(option.maximum or SEED_LIMIT, SEED_LIMIT)
        )
        self.spin.setSpecialValueText("random")
        self.dice = QToolButton()
        self.dice.setText("⚄")
        self.dice.setToolTip("Pick a new random seed now")
        self.dice.clicked.connect(self._roll)
        layout.addWidget(self.spin, 1)
        layout.addWidget(self.dice)

    def value(self) -> int:
        return int(self.spin.value())

    def set_value(self, value: int) -> None:
        self.spin.setValue(float(value))

    def _roll(self) -> None:
        self.spin.setValue(random.randrange(int(self.spin.maximum())))


FOUND_ROLE = Qt.ItemDataRole.UserRole + 1
"""Marks the picker's rows that come from a scan of the model library (headings included)."""


class ModelPicker(QWidget):
    """The ``model`` option: the plugin's known models, or a folder or file picked by hand."""

    changed = Signal()

    def __init__(
        self,
        known: tuple[KnownModel, ...],
        imported: Sequence[tuple[str, str]] = (),
        on_import: Callable[[str], None] | None = None,
        unusable: Mapping[str, str] | None = None,
        default_id: str | None = None,
        recent_folders: RecentFolders | None = None,
    ) -> None:
        """``imported``: (label, path) of models the user imported before; ``on_import`` is
        told of each folder or file the user picks, so it can be listed next time.
        ``unusable``: known model ids that failed their engine check here, with the reason
        (shown, not selectable); ``default_id``: the model an empty value means here (the
        first embedded model that works; by default the first embedded one)."""
        super().__init__()
        self._on_import = on_import
        self._recent = recent_folders
        layout = QVBoxLayout(self)  # the name has the whole width: it is not cut
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setMinimumContentsLength(12)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        unusable = unusable or {}
        embedded = [m for m in known if m.embedded]
        if default_id is None and embedded:
            default_id = embedded[0].id
        if not embedded:
            self.combo.addItem("", "")
            self.combo.lineEdit().setPlaceholderText("no model chosen: import one")
        for model in known:
            label = model.name
            reason = unusable.get(model.id, "")
            tooltip = model.description or label
            if model.licence:
                tooltip = f"{tooltip}\nLicence: {model.licence}."
            if reason:
                label += " — does not work here"
                tooltip = f"Not usable on this machine: {reason}. {tooltip}"
            self.combo.addItem(label, "" if model.id == default_id else model.id)
            index = self.combo.count() - 1
            self.combo.setItemData(index, tooltip, Qt.ItemDataRole.ToolTipRole)
            if reason:
                self.combo.model().item(index).setEnabled(False)
        for label, path in imported:
            self._add_imported(label, path)
        self.combo.currentTextChanged.connect(self.changed)
        # A long name shows its beginning (the model's name), not its end (the licence).
        self.combo.currentIndexChanged.connect(lambda _: self.combo.lineEdit().setCursorPosition(0))
        self.combo.lineEdit().setCursorPosition(0)
        # One button for both ways of bringing a model: the name keeps the room.
        self.other_button = QPushButton("Other…")
        self.other_button.setObjectName("other-model")
        self.other_button.setToolTip("Use a model of your own: a model folder or a single file")
        menu = QMenu(self.other_button)
        self.folder_action = menu.addAction("Model folder…", self._pick_folder)
        self.folder_action.setToolTip("A Hugging Face or diffusers model folder")
        self.file_action = menu.addAction("Single model file…", self._pick_file)
        self.file_action.setToolTip("A .safetensors, .gguf or .onnx file")
        self.other_button.setMenu(menu)
        layout.addWidget(self.combo)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.other_button)
        layout.addLayout(row)

    def set_found(self, found: Sequence[FoundModel]) -> None:
        """List the library's other models after the imported ones, under a heading for each
        place they were found in ("Hugging Face cache", "LM Studio"…); one that cannot be
        used is shown greyed with the reason. Called again after each scan of the library:
        the chosen model stays chosen."""
        current = self.value()
        self.combo.blockSignals(True)
        for index in reversed(range(self.combo.count())):
            if self.combo.itemData(index, FOUND_ROLE):
                self.combo.removeItem(index)
        group = None
        for model in found:
            if model.group != group:
                group = model.group
                self.combo.addItem(f"— {group} —", None)
                heading = self.combo.model().item(self.combo.count() - 1)
                heading.setEnabled(False)
                font = heading.font()
                font.setBold(True)
                heading.setFont(font)
                heading.setData(True, FOUND_ROLE)
            label = model.label + (" — cannot be used" if model.reason else "")
            self.combo.addItem(label, model.value)
            index = self.combo.count() - 1
            tooltip = f"{model.reason}\n{model.tooltip}" if model.reason else model.tooltip
            self.combo.setItemData(index, tooltip, Qt.ItemDataRole.ToolTipRole)
            self.combo.setItemData(index, True, FOUND_ROLE)
            if model.reason:
                self.combo.model().item(index).setEnabled(False)
        self.set_value(current)
        self.combo.lineEdit().setCursorPosition(0)
        self.combo.blockSignals(False)

    def found_values(self) -> list[str]:
        """The library models listed (their paths), in order."""
        return [
            str(self.combo.itemData(index))
            for index in range(self.combo.count())
            if self.combo.itemData(index, FOUND_ROLE) and self.combo.itemData(index) is not None
        ]

    def value(self) -> str:
        index = self.combo.currentIndex()
        if index >= 0 and self.combo.currentText() == self.combo.itemText(index):
            return str(self.combo.itemData(index) or "")
        return self.combo.currentText().strip()

    def set_value(self, value: str) -> None:
        for index in range(self.combo.count()):
            if self.combo.itemData(index) == value:
                self.combo.setCurrentIndex(index)
                return
        self.combo.setEditText(value)

    def _add_imported(self, label: str, path: str) -> None:
        if self.combo.findData(path) >= 0:
            return
        self.combo.addItem(label, path)
        self.combo.setItemData(self.combo.count() - 1, path, Qt.ItemDataRole.ToolTipRole)

    def import_path(self, path: str) -> None:
        """Use a model folder or file the user picked, and list it from now on."""
        self._add_imported(f"{Path(path).name} (imported)", path)
        self.set_value(path)
        if self._on_import is not None:
            self._on_import(path)

    def _pick_folder(self) -> None:
        folder = choose_folder(self, self._recent, "import-model", "Choose a model folder")
        if folder is not None:
            self.import_path(str(folder))

    def _pick_file(self) -> None:
        path = choose_file(
            self,
            self._recent,
            "import-model",
            "Choose a model file",
            "Model files (*.safetensors *.gguf *.onnx *.bin *.pt *.pth *.ckpt);;All files (*)",
        )
        if path is not None:
            self.import_path(str(path))


class LoraEditor(QWidget):
    """The ``loras`` option: ``NAME:STRENGTH; ...`` as text, with an "Add LoRA" menu of the
    model library's LoRAs (each added at strength 1, edited in the text)."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.line = QLineEdit()
        self.line.setPlaceholderText("none (or <lora:name:0.8> in the prompt)")
        self.add_button = QToolButton()
        self.add_button.setText("Add LoRA")
        self.add_button.setObjectName("add-lora")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.add_button)
        self.add_button.setMenu(self.menu)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.add_button)
        self.line.textChanged.connect(self.changed)
        self.set_loras([])

    def set_loras(self, names: Sequence[str]) -> None:
        """The library's LoRAs, by name (after each scan)."""
        self.menu.clear()
        for name in names:
            self.menu.addAction(name, lambda name=name: self.add(name))
        if not names:
            none = self.menu.addAction(
                "No LoRAs found: put them in a LoRA folder or add one in View > Models"
            )
            none.setEnabled(False)

    def add(self, name: str, strength: float = 1.0) -> None:
        uses = [use for use in LoraOption.uses(self.line.text()) if use.name != name]
        self.line.setText(LoraOption.text([*uses, LoraUse(name, strength)]))

    def value(self) -> str:
        return self.line.text()

    def set_value(self, value: str) -> None:
        self.line.setText(value)


def _make_editor(
    option: Option,
    known: tuple[KnownModel, ...] = (),
    imported: Sequence[tuple[str, str]] = (),
    on_import: Callable[[str], None] | None = None,
    unusable: Mapping[str, str] | None = None,
    default_id: str | None = None,
    recent_folders: RecentFolders | None = None,
) -> _Editor:
    if isinstance(option, SeedOption):
        seed = _SeedEditor(option)
        return _Editor(option, seed, seed.value, seed.set_value, seed.spin.valueChanged)
    if isinstance(option, IntOption):
        spin = QSpinBox()
        spin.setRange(
            max(option.minimum if option.minimum is not None else -INT_LIMIT, -INT_LIMIT),
            min(option.maximum if option.maximum is not None else INT_LIMIT, INT_LIMIT),
        )
        spin.setSingleStep(option.step)
        return _Editor(option, spin, spin.value, spin.setValue, spin.valueChanged)
    if isinstance(option, FloatOption):
        spin = QDoubleSpinBox()
        spin.setDecimals(option.decimals)
        spin.setRange(
            option.minimum if option.minimum is not None else -1e12,
            option.maximum if option.maximum is not None else 1e12,
        )
        spin.setSingleStep(option.step)
        return _Editor(option, spin, spin.value, spin.setValue, spin.valueChanged)
    if isinstance(option, BoolOption):
        box = QCheckBox()
        return _Editor(option, box, box.isChecked, box.setChecked, box.toggled)
    if isinstance(option, ChoiceOption):
        combo = QComboBox()
        previews = dict(option.previews)
        blank = QPixmap(PREVIEW_SIZE, PREVIEW_SIZE)
        blank.fill(Qt.GlobalColor.transparent)  # rows without a picture keep the same height
        for choice in option.current_choices():
            picture = previews.get(choice)
            if picture and Path(picture).is_file():
                combo.addItem(QIcon(picture), choice, picture)
            elif previews:
                combo.addItem(QIcon(blank), choice)
            else:
                combo.addItem(choice)
        if previews:
            # the closed field shows a small picture; the open list shows them large
            combo.setIconSize(QSize(PREVIEW_SIZE // 2, PREVIEW_SIZE // 2))
            # a list popup (not a menu) shows the pictures at their own size, 8 at a time
            combo.setStyleSheet("QComboBox { combobox-popup: 0; }")
            combo.view().setIconSize(QSize(PREVIEW_SIZE, PREVIEW_SIZE))
            combo.setMaxVisibleItems(8)
        return _Editor(
            option, combo, combo.currentText, combo.setCurrentText, combo.currentTextChanged
        )
    if isinstance(option, LoraOption):
        loras = LoraEditor()
        return _Editor(option, loras, loras.value, loras.set_value, loras.changed)
    if isinstance(option, ModelOption):
        picker = ModelPicker(known, imported, on_import, unusable, default_id, recent_folders)
        return _Editor(option, picker, picker.value, picker.set_value, picker.changed)
    if isinstance(option, TextOption) and option.multiline:
        text = QPlainTextEdit()
        text.setMaximumHeight(80)
        return _Editor(option, text, text.toPlainText, text.setPlainText, text.textChanged)
    line = QLineEdit()
    if isinstance(option, TextOption) and option.max_length:
        line.setMaxLength(option.max_length)
    return _Editor(option, line, line.text, line.setText, line.textChanged)


class AdvancedFold:
    """The "Advanced options" fold: a toggle with an arrow and, under it, the folded rows
    (closed at first)."""

    def __init__(self) -> None:
        self.toggle = QToolButton()
        self.toggle.setText("Advanced options")
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.toggled.connect(self._show)
        self.body = QWidget()
        self.rows = QFormLayout(self.body)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.body.setVisible(False)

    def _show(self, shown: bool) -> None:
        self.body.setVisible(shown)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)


class OptionsForm(QWidget):
    """Editors for an option set; ``values()`` gives a dict the option set validates."""

    changed = Signal()

    def __init__(
        self,
        options: OptionSet,
        parent: QWidget | None = None,
        *,
        known_models: tuple[KnownModel, ...] = (),
        imported_models: Sequence[tuple[str, str]] = (),
        on_import: Callable[[str], None] | None = None,
        unusable_models: Mapping[str, str] | None = None,
        default_model: str | None = None,
        advanced_rows: QFormLayout | None = None,
        own_reset: bool = True,
        recent_folders: RecentFolders | None = None,
    ) -> None:
        """``advanced_rows``: where the advanced options go when another widget holds the
        fold (:class:`PanelOptions`); ``own_reset``: whether the form has a reset button."""
        super().__init__(parent)
        self.options = options
        self.editors: dict[str, _Editor] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        basic = QFormLayout()
        outer.addLayout(basic)
        self._fold = fold = AdvancedFold()  # kept: its toggle's slot is a method of it
        self.advanced_toggle = fold.toggle
        advanced = fold.rows
        has_advanced = False
        for option in options:
            editor = _make_editor(
                option,
                known_models,
                imported_models,
                on_import,
                unusable_models,
                default_model,
                recent_folders,
            )
            editor.widget.setToolTip(tooltip_for(option))
            editor.widget.setObjectName(f"option-{option.name}")
            editor.put(option.default)
            editor.changed.connect(self.changed)
            self.editors[option.name] = editor
            target = advanced if option.advanced else basic
            if option.advanced and advanced_rows is not None:
                target = advanced_rows
            has_advanced |= option.advanced
            if isinstance(option, ModelOption):  # label above: the model's name needs the room
                target.addRow(QLabel(option.display_label))
                target.addRow(editor.widget)
            else:
                target.addRow(option.display_label, editor.widget)
        self.has_advanced = has_advanced
        if has_advanced and advanced_rows is None:
            outer.addWidget(fold.toggle)
            outer.addWidget(fold.body)
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Put every option back to its default value")
        self.reset_button.clicked.connect(self.reset)
        if self.editors and own_reset:
            row = QHBoxLayout()
            row.addStretch(1)
            row.addWidget(self.reset_button)
            outer.addLayout(row)

    def values(self) -> dict[str, Any]:
        """The current values (only those that differ from the defaults)."""
        result = {}
        for name, editor in self.editors.items():
            value = editor.get()
            if isinstance(editor.option, FloatOption):
                value = round(float(value), editor.option.decimals)
            if value != editor.option.default:
                result[name] = value
        return result

    def set_values(self, values: dict[str, Any]) -> list[str]:
        """Fill in values (from a recipe); returns the names this form does not know."""
        unknown = []
        for name, value in values.items():
            editor = self.editors.get(name)
            if editor is None:
                unknown.append(name)
                continue
            try:
                editor.put(editor.option.validate(value))
            except ValueError:
                unknown.append(name)
        return unknown

    def reset(self) -> None:
        for editor in self.editors.values():
            editor.put(editor.option.default)


class PanelOptions(QWidget):
    """A plugin's load options (the model and how it is loaded) and run options (how each job
    runs) as one form: the basic options of both, then one "Advanced options" fold with the
    advanced ones of both, and one "Reset to defaults" for all of them."""

    changed = Signal()

    def __init__(
        self,
        load_options: OptionSet,
        run_options: OptionSet,
        parent: QWidget | None = None,
        **model_picker: Any,
    ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._fold = fold = AdvancedFold()  # kept: its toggle's slot is a method of it
        fold.toggle.setObjectName("advanced-options")
        self.advanced_toggle = fold.toggle
        advanced = fold.rows
        self.load_form = OptionsForm(
            load_options, advanced_rows=advanced, own_reset=False, **model_picker
        )
        self.run_form = OptionsForm(run_options, advanced_rows=advanced, own_reset=False)
        self.forms = (self.load_form, self.run_form)
        for form in self.forms:
            form.changed.connect(self.changed)
            layout.addWidget(form)
            form.setVisible(bool(form.editors))
        if any(form.has_advanced for form in self.forms):
            layout.addWidget(fold.toggle)
            layout.addWidget(fold.body)
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setObjectName("reset-options")
        self.reset_button.setToolTip("Put every option of this plugin back to its default value")
        self.reset_button.clicked.connect(self.reset)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.reset_button)
        layout.addLayout(row)

    @property
    def editors(self) -> dict[str, _Editor]:
        return {**self.load_form.editors, **self.run_form.editors}

    @property
    def model_picker(self) -> ModelPicker | None:
        """The ``model`` option's picker, when the plugin has one."""
        for editor in self.load_form.editors.values():
            if isinstance(editor.widget, ModelPicker):
                return editor.widget
        return None

    @property
    def lora_editor(self) -> LoraEditor | None:
        """The ``loras`` option's editor, when the plugin has one."""
        for editor in self.run_form.editors.values():
            if isinstance(editor.widget, LoraEditor):
                return editor.widget
        return None

    def reset(self) -> None:
        for form in self.forms:
            form.reset()
