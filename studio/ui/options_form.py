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

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.plugin_api import (
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    KnownModel,
    ModelOption,
    Option,
    OptionSet,
    SeedOption,
    TextOption,
)

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int


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
    """A seed spin box with a dice button (new random seed) and -1 meaning random."""

    def __init__(self, option: SeedOption) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.spin = QSpinBox()
        self.spin.setRange(
            max(option.minimum or -1, -1), min(option.maximum or INT_LIMIT, INT_LIMIT)
        )
        self.spin.setSpecialValueText("random")
        self.dice = QToolButton()
        self.dice.setText("⚄")
        self.dice.setToolTip("Pick a new random seed now")
        self.dice.clicked.connect(self._roll)
        layout.addWidget(self.spin, 1)
        layout.addWidget(self.dice)

    def _roll(self) -> None:
        self.spin.setValue(random.randrange(min(self.spin.maximum(), INT_LIMIT)))


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
    ) -> None:
        """``imported``: (label, path) of models the user imported before; ``on_import`` is
        told of each folder or file the user picks, so it can be listed next time.
        ``unusable``: known model ids that failed their engine check here, with the reason
        (shown, not selectable); ``default_id``: the model an empty value means here (the
        first embedded model that works; by default the first embedded one)."""
        super().__init__()
        self._on_import = on_import
        layout = QHBoxLayout(self)
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
            label = f"{model.name} ({model.licence})" if model.licence else model.name
            reason = unusable.get(model.id, "")
            tooltip = model.description or label
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
        self.folder_button = QToolButton()
        self.folder_button.setText("Folder…")
        self.folder_button.setToolTip("Use a model folder (Hugging Face or diffusers layout)")
        self.folder_button.clicked.connect(self._pick_folder)
        self.file_button = QToolButton()
        self.file_button.setText("File…")
        self.file_button.setToolTip("Use a single model file (.safetensors, .gguf, .onnx…)")
        self.file_button.clicked.connect(self._pick_file)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.folder_button)
        layout.addWidget(self.file_button)

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
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.import_path(folder)

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Choose a model file",
            "",
            "Model files (*.safetensors *.gguf *.onnx *.bin *.pt *.pth *.ckpt);;All files (*)",
        )
        if path:
            self.import_path(path)


def _make_editor(
    option: Option,
    known: tuple[KnownModel, ...] = (),
    imported: Sequence[tuple[str, str]] = (),
    on_import: Callable[[str], None] | None = None,
    unusable: Mapping[str, str] | None = None,
    default_id: str | None = None,
) -> _Editor:
    if isinstance(option, SeedOption):
        seed = _SeedEditor(option)
        return _Editor(option, seed, seed.spin.value, seed.spin.setValue, seed.spin.valueChanged)
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
        combo.addItems(list(option.choices))
        return _Editor(
            option, combo, combo.currentText, combo.setCurrentText, combo.currentTextChanged
        )
    if isinstance(option, ModelOption):
        picker = ModelPicker(known, imported, on_import, unusable, default_id)
        return _Editor(option, picker, picker.value, picker.set_value, picker.changed)
    if isinstance(option, TextOption) and option.multiline:
        text = QPlainTextEdit()
        text.setMaximumHeight(80)
        return _Editor(option, text, text.toPlainText, text.setPlainText, text.textChanged)
    line = QLineEdit()
    if isinstance(option, TextOption) and option.max_length:
        line.setMaxLength(option.max_length)
    return _Editor(option, line, line.text, line.setText, line.textChanged)


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
    ) -> None:
        super().__init__(parent)
        self.options = options
        self.editors: dict[str, _Editor] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        basic = QFormLayout()
        outer.addLayout(basic)
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced options")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        self._advanced_body = QWidget()
        advanced = QFormLayout(self._advanced_body)
        advanced.setContentsMargins(0, 0, 0, 0)
        self._advanced_body.setVisible(False)
        has_advanced = False
        for option in options:
            editor = _make_editor(
                option, known_models, imported_models, on_import, unusable_models, default_model
            )
            editor.widget.setToolTip(tooltip_for(option))
            editor.widget.setObjectName(f"option-{option.name}")
            editor.put(option.default)
            editor.changed.connect(self.changed)
            self.editors[option.name] = editor
            target = advanced if option.advanced else basic
            has_advanced |= option.advanced
            target.addRow(option.display_label, editor.widget)
        if has_advanced:
            outer.addWidget(self.advanced_toggle)
            outer.addWidget(self._advanced_body)
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Put every option back to its default value")
        self.reset_button.clicked.connect(self.reset)
        if self.editors:
            row = QHBoxLayout()
            row.addStretch(1)
            row.addWidget(self.reset_button)
            outer.addLayout(row)

    def _toggle_advanced(self, shown: bool) -> None:
        self._advanced_body.setVisible(shown)
        self.advanced_toggle.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )

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
