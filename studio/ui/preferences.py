"""The Preferences dialog: device, memory budget, theme and where projects go.

The values live in the settings file owned by ``studio.core.settings`` (the command line reads
the same file); the dialog only edits them.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.device import Devices
from studio.core.errors import UserError
from studio.core.settings import Settings, SettingsFile, Theme, physical_memory_bytes


class PreferencesDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        settings_file: SettingsFile,
        devices: Devices,
        data_dir: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings_file = settings_file
        self.result_settings = settings
        self.device = QComboBox()
        self.device.addItem("Automatic (best available)", "auto")
        for name in devices.names():
            self.device.addItem(name.upper() if name == "cpu" else name, name)
        index = self.device.findData(settings.device)
        if index < 0:
            self.device.addItem(f"{settings.device} (not found here)", settings.device)
            index = self.device.count() - 1
        self.device.setCurrentIndex(index)
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0, 4096)
        self.budget.setDecimals(1)
        self.budget.setSuffix(" GB")
        total = physical_memory_bytes() / 2**30
        self.budget.setSpecialValueText(f"Automatic (half of {total:.0f} GB)")
        self.budget.setValue(settings.memory_budget_gb)
        self.budget.setToolTip(
            "How much memory loaded models may use together; the least "
            "recently used model is unloaded when a new one needs room."
        )
        self.theme = QComboBox()
        for theme, label in (
            (Theme.SYSTEM, "Same as the system"),
            (Theme.LIGHT, "Light"),
            (Theme.DARK, "Dark"),
        ):
            self.theme.addItem(label, theme.value)
        self.theme.setCurrentIndex(self.theme.findData(settings.theme.value))
        self.isolate = QCheckBox("Run models in separate processes")
        self.isolate.setChecked(settings.isolate_models)
        self.isolate.setToolTip(
            "Keeps the window smooth while models load and run, frees their memory for "
            "certain when they are unloaded, and limits a crash in a model's native code to "
            "that job. Takes effect after a restart."
        )
        self.isolate_note = QLabel(
            "Off: the built-in models run inside the window, and a crash in a model's native "
            "code closes the whole window (the crash is logged and the next start offers to "
            "turn this back on). Plugins you installed always run in a process of their own."
        )
        self.isolate_note.setWordWrap(True)
        self.isolate_note.setStyleSheet("color: #8a4b00;")  # a warning, not a hint
        self.isolate_note.setVisible(not settings.isolate_models)
        self.isolate.toggled.connect(lambda on: self.isolate_note.setVisible(not on))
        self.warm_up = QCheckBox("Load a panel's model when the panel opens")
        self.warm_up.setChecked(settings.warm_up_models)
        self.warm_up.setToolTip(
            "Loads the selected model in the background as soon as its panel is shown, so "
            "the first Run starts at once. Uses the model's memory before you run anything; "
            "needs separate processes."
        )
        self.projects_dir = QLineEdit(settings.projects_dir)
        self.projects_dir.setPlaceholderText(data_dir)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.projects_dir, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Device", self.device)
        form.addRow("Memory for models", self.budget)
        form.addRow("Theme", self.theme)
        form.addRow("", self.isolate)
        form.addRow("", self.isolate_note)
        form.addRow("", self.warm_up)
        form.addRow("Projects folder", folder_row)
        note = QLabel(
            f"Settings, logs, plugins and untitled projects live in {data_dir} "
            "(set STUDIO_DATA_DIR to move them)."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self._restore_defaults
        )
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Projects folder", self.projects_dir.text())
        if folder:
            self.projects_dir.setText(folder)

    def _restore_defaults(self) -> None:
        defaults = Settings()
        self.device.setCurrentIndex(self.device.findData(defaults.device))
        self.budget.setValue(defaults.memory_budget_gb)
        self.theme.setCurrentIndex(self.theme.findData(defaults.theme.value))
        self.projects_dir.clear()
        self.isolate.setChecked(defaults.isolate_models)
        self.warm_up.setChecked(defaults.warm_up_models)

    def chosen(self) -> Settings:
        return Settings(
            device=self.device.currentData(),
            memory_budget_gb=self.budget.value(),
            theme=Theme(self.theme.currentData()),
            projects_dir=self.projects_dir.text().strip(),
            isolate_models=self.isolate.isChecked(),
            warm_up_models=self.warm_up.isChecked(),
        )

    def accept(self) -> None:
        try:
            settings = self.chosen()
            self.settings_file.save(settings)
        except (UserError, OSError) as exc:
            QMessageBox.warning(self, "Preferences not saved", str(exc))
            return
        self.result_settings = settings
        super().accept()
