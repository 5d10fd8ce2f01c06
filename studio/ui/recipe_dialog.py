"""The recipe of an asset, for people: what it is, the plugin and model that made it, every
setting by the label the panel gives it, the request, the inputs as thumbnails, and the facts of
the run; with Re-run, "Copy as Command Line" and the raw JSON (folded).

The dialog only asks: Re-run emits :attr:`RecipeDialog.rerun_requested` (the asset browser
passes it on to the main window, which runs the recipe again through the job pipeline), and a
click on an input emits :attr:`RecipeDialog.asset_requested` (the browser shows that asset's
recipe).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.durations import format_size
from studio.core.errors import UserError
from studio.core.option_labels import field_label, format_value, option_lines
from studio.core.project import Asset, ProjectError, ProjectStore
from studio.core.project.errors import AssetNotFoundError
from studio.core.recipe import Recipe, RecipeError, RecipeOrigin
from studio.core.recipe_command import command_line
from studio.core.registry import PluginRecord, PluginRegistry, PluginUnavailable
from studio.plugin_api import REQUEST_TYPE_FOR_PANEL, ModelSpec
from studio.plugin_api.kinds import AssetKind
from studio.qt.asset_model import KIND_LABELS, draw_kind_icon, make_preview

THUMBNAIL = 48
"""Logical pixels of an input's thumbnail."""
HEADER_THUMBNAIL = 96
"""Logical pixels of the asset's own thumbnail at the top."""
_LONG_TEXT = 2000
"""Request texts longer than this are shortened here (the JSON and the copies keep them whole)."""
_HASH_SHOWN = 12


def can_rerun(asset: Asset) -> bool:
    """Whether the asset's recipe can be run again (generated, and the recipe is readable)."""
    try:
        return asset.recipe.origin is RecipeOrigin.GENERATED
    except RecipeError:
        return False


@dataclass(frozen=True)
class InputRow:
    """One asset the shown asset was made from, as the dialog lists it."""

    role: str
    asset_id: str
    title: str
    """The input's title; empty when it is not in the project any more."""
    kind: AssetKind | None
    thumbnail: QPixmap | None
    """A picture of an image input; None for other kinds (they show their kind's icon)."""
    label: QLabel


class RecipeDialog(QDialog):
    """How an asset was made, readable; non-modal, read-only.

    Signals:
        rerun_requested(asset_id): Re-run (or Ctrl+R) was pressed; the dialog then closes.
        asset_requested(asset_id): an input was clicked (show its recipe).
    """

    rerun_requested = Signal(str)
    asset_requested = Signal(str)

    def __init__(
        self,
        store: ProjectStore,
        asset: Asset,
        parent: QWidget | None = None,
        *,
        registry: PluginRegistry | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.asset = asset
        self.registry = registry
        self.setWindowTitle(f"Recipe of “{asset.title}”")
        self.resize(640, 720)
        self.sections: dict[str, _Section] = {}
        self.input_rows: list[InputRow] = []
        self.spec: ModelSpec | None = None
        self.plugin_problem = ""  # why the plugin cannot be used here; empty when it can

        try:
            self.recipe: Recipe | None = asset.recipe
        except RecipeError as exc:  # shown as stored, so that nothing is hidden
            self.recipe = None
            summary = f"This recipe cannot be read: {exc}"
            self.json_text = _pretty_json(asset.recipe_json)
        else:
            self.spec, self.plugin_problem = self._plugin_spec(self.recipe)
            summary = self._summary(self.recipe)
            self.json_text = self.recipe.to_json_text(indent=2)

        layout = QVBoxLayout(self)
        layout.addLayout(self._header(summary))

        body = QWidget()
        # One grid for every section, so that all values line up in one column.
        self._grid = QGridLayout(body)
        self._grid.setContentsMargins(0, 0, 8, 0)
        self._grid.setColumnStretch(1, 1)
        self._grid.setHorizontalSpacing(12)
        if self.recipe is not None:
            self._fill(self.recipe)
        self._add_inputs()
        self._add_uses()
        self._grid.setRowStretch(self._grid.rowCount(), 1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(body)
        layout.addWidget(self.scroll, 3)

        self.json_toggle = QToolButton()
        self.json_toggle.setText("Recipe as JSON")
        self.json_toggle.setCheckable(True)
        self.json_toggle.setAutoRaise(True)
        self.json_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.json_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.json_toggle.toggled.connect(self._show_json)
        layout.addWidget(self.json_toggle)
        self.recipe_view = QPlainTextEdit(self.json_text)
        self.recipe_view.setReadOnly(True)  # still selectable and copyable
        self.recipe_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.recipe_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.recipe_view.setVisible(False)
        layout.addWidget(self.recipe_view, 2)
        # A recipe that cannot be read has nothing but its JSON to show.
        self.json_toggle.setChecked(self.recipe is None)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        layout.addWidget(self._buttons())

    # Building -----------------------------------------------------------------------------------

    def _plugin_spec(self, recipe: Recipe) -> tuple[ModelSpec | None, str]:
        if recipe.origin is not RecipeOrigin.GENERATED or self.registry is None:
            return None, ""
        try:
            return self.registry.spec(recipe.plugin_id), ""
        except PluginUnavailable as exc:
            return None, str(exc)
        except Exception as exc:  # a broken plugin must not keep its recipes from showing
            return None, f"The plugin '{recipe.plugin_id}' cannot be read: {exc}"

    def _plugin_name(self, recipe: Recipe) -> str:
        if self.spec is not None:
            return self.spec.name
        record = self._plugin_record(recipe)
        return record.name if record is not None else recipe.plugin_id

    def _plugin_record(self, recipe: Recipe) -> PluginRecord | None:
        """What the registry knows of the recipe's plugin (installed, maybe disabled)."""
        if self.registry is None:
            return None
        try:
            return self.registry.get(recipe.plugin_id)
        except PluginUnavailable:
            return None

    def _summary(self, recipe: Recipe) -> str:
        if recipe.origin is RecipeOrigin.IMPORTED:
            source = recipe.request.get("file_name") or "a file"
            return f"Imported from {source}."
        if recipe.origin is RecipeOrigin.WRITTEN:
            return "Written in the Writing panel (its revisions: Document > History)."
        model = f" with {self._model_name(recipe)}" if recipe.model_id else ""
        return f"Made by {self._plugin_name(recipe)} {recipe.plugin_version}{model}."

    def _model_name(self, recipe: Recipe) -> str:
        if self.spec is not None:
            known = next((m for m in self.spec.models if m.id == recipe.model_id), None)
            if known is not None:
                return known.name
        # A model given as a path is named by its file or folder.
        return recipe.model_id.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]

    def _header(self, summary: str) -> QHBoxLayout:
        asset = self.asset
        row = QHBoxLayout()
        self.thumbnail = QLabel()
        self.thumbnail.setFixedSize(HEADER_THUMBNAIL, HEADER_THUMBNAIL)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture = self._picture(asset, HEADER_THUMBNAIL)
        self.thumbnail.setPixmap(
            picture if picture is not None else self._kind_icon(asset.kind, HEADER_THUMBNAIL)
        )
        row.addWidget(self.thumbnail, 0, Qt.AlignmentFlag.AlignTop)
        text = QVBoxLayout()
        self.title_label = QLabel(asset.title or "(untitled)")
        font = QFont(self.title_label.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.title_label.setFont(font)
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.addWidget(self.title_label)
        created = asset.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        self.kind_label = QLabel(
            f"{KIND_LABELS[asset.kind]} · {created} · {format_size(asset.size)}"
        )
        text.addWidget(self.kind_label)
        self.summary = QLabel(summary)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.addWidget(self.summary)
        text.addStretch(1)
        row.addLayout(text, 1)
        return row

    def _add_wide(self, widget: QWidget, space_before: int = 0) -> None:
        """A widget across both columns, below what is there."""
        row = self._grid.rowCount()
        if space_before:
            self._grid.setRowMinimumHeight(row, space_before)
            row += 1
        self._grid.addWidget(widget, row, 0, 1, 2)

    def _section(self, title: str, note: str = "") -> _Section:
        heading = QLabel(title)
        font = QFont(heading.font())
        font.setBold(True)
        heading.setFont(font)
        self._add_wide(heading, space_before=10 if self.sections else 0)
        if note:
            remark = QLabel(note)
            remark.setWordWrap(True)
            remark.setObjectName("section-note")
            self._add_wide(remark)
        section = _Section(title)
        self.sections[title] = section
        return section

    def _row(
        self, section: _Section, label: str, value: str, tooltip: str = "", *, muted: bool = False
    ) -> QLabel:
        name = QLabel(f"{label}:")
        name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        shown = QLabel(value)
        shown.setTextFormat(Qt.TextFormat.PlainText)
        shown.setWordWrap(True)
        shown.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if tooltip:
            name.setToolTip(tooltip)
            shown.setToolTip(tooltip)
        if muted:
            for widget in (name, shown):
                font = QFont(widget.font())
                font.setItalic(True)
                widget.setFont(font)
        row = self._grid.rowCount()
        self._grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
        self._grid.addWidget(shown, row, 1)
        section.rows.append((name, shown))
        return shown

    def _fill(self, recipe: Recipe) -> None:
        if recipe.origin is RecipeOrigin.IMPORTED:
            self._fill_imported(recipe)
            return
        if recipe.origin is RecipeOrigin.WRITTEN:
            form = self._section("Written")
            self._row(form, "Written", _local_time(recipe))
            self._add_details(recipe.details, "Details")
            return
        self._fill_made_by(recipe)
        self._fill_request(recipe)
        self._fill_settings(recipe)
        self._add_details(recipe.details, "Run", recipe)

    def _fill_made_by(self, recipe: Recipe) -> None:
        form = self._section("Made by")
        if self.spec is not None:
            plugin = f"{self.spec.name} {recipe.plugin_version}"
            if self.spec.version != recipe.plugin_version:
                plugin += f" (version {self.spec.version} is installed now)"
            tooltip = recipe.plugin_id
        elif (record := self._plugin_record(recipe)) is not None:
            plugin = f"{record.name} {recipe.plugin_version}, cannot run here"
            tooltip = self.plugin_problem
        elif self.registry is not None:
            plugin = f"{recipe.plugin_id} {recipe.plugin_version}, not installed"
            tooltip = self.plugin_problem
        else:
            plugin, tooltip = f"{recipe.plugin_id} {recipe.plugin_version}", ""
        self._row(form, "Plugin", plugin, tooltip)
        if recipe.model_id:
            model = self._model_name(recipe)
            if model != recipe.model_id:
                model += f" ({recipe.model_id})"
            self._row(form, "Model", model, recipe.model_id)
        else:
            self._row(form, "Model", "none (the plugin uses no model files)")
        if recipe.model_sha256:
            self._row(
                form,
                "Model files",
                f"sha256 {recipe.model_sha256[:_HASH_SHOWN]}…",
                f"sha256 {recipe.model_sha256}",
            )
        if recipe.model_licence:
            self._row(form, "Licence", recipe.model_licence)

    def _fill_request(self, recipe: Recipe) -> None:
        # In the order the panel shows them (prompt before negative prompt); stored sorted.
        known = REQUEST_TYPE_FOR_PANEL[recipe.panel].field_names() if recipe.panel else ()
        names = [*(n for n in known if n in recipe.request), *recipe.request]
        fields = [
            (name, recipe.request[name])
            for name in dict.fromkeys(names)
            if recipe.request[name] not in ("", None)
        ]
        if not fields:
            return
        form = self._section("Request")
        for name, value in fields:
            text = value if isinstance(value, str) else format_value(value)
            if len(text) > _LONG_TEXT:
                more = len(text) - _LONG_TEXT
                text = f"{text[:_LONG_TEXT]}… ({more:,} more characters in the JSON)"
            self._row(form, field_label(name), text)

    def _fill_settings(self, recipe: Recipe) -> None:
        known = self.spec is not None
        note = ""
        if not known and self.registry is not None:
            note = "Settings by their stored names: the plugin cannot be read here."
        form = self._section("Settings", note)
        if recipe.seed is not None:
            self._row(form, "Seed", str(recipe.seed))
        seed_shown = {"seed"} if recipe.seed is not None else set()
        model_shown = {"model"} if recipe.model_id else set()
        lines = [
            *option_lines(self.spec, recipe.load_options, load=True, leave_out=model_shown),
            *option_lines(self.spec, recipe.run_options, load=False, leave_out=seed_shown),
        ]
        plugin = self.spec.name if self.spec is not None else ""
        for line in lines:
            if line.known or not known:
                self._row(form, line.label, line.value, line.description)
            else:
                self._row(
                    form,
                    line.label,
                    f"{line.value}  (not an option of {plugin} {self.spec.version} any more)"
                    if self.spec is not None
                    else line.value,
                    "The installed plugin has no option of this name; a re-run would refuse it.",
                    muted=True,
                )
        if not form.rows:
            self._row(form, "Options", "none")

    def _add_details(self, details: Mapping[str, Any], title: str, recipe: Recipe | None = None):
        form = self._section(title)
        rest = dict(details)
        device = rest.pop("device", None)
        if device:
            self._row(form, "Device", str(device))
        seconds = rest.pop("seconds", None)
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            self._row(form, "Took", _seconds(seconds))
        if recipe is not None:
            self._row(form, "Studio", recipe.app_version)
        rerun_of = rest.pop("rerun_of", None)
        if isinstance(rerun_of, str) and rerun_of:
            label = self._row(form, "Re-run of", self._asset_link(rerun_of))
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            label.linkActivated.connect(self.asset_requested)
        for key, value in rest.items():
            self._row(form, field_label(key), _short(value))
        if not form.rows:
            self._row(form, "Nothing else", "recorded")

    def _fill_imported(self, recipe: Recipe) -> None:
        form = self._section("Imported")
        self._row(form, "File", str(recipe.request.get("file_name") or "(not recorded)"))
        self._row(form, "Imported", _local_time(recipe))
        details = dict(recipe.details)
        facts = details.pop("file", None)
        if isinstance(facts, Mapping):
            # The file's name and size are shown already (above, and under the title).
            shown = {k: v for k, v in facts.items() if k not in ("name", "bytes")}
            first = [k for k in ("width", "height") if k in shown]
            for key in [*first, *(k for k in shown if k not in first)]:
                self._row(form, field_label(key), _short(shown[key]))
        found_in = details.pop("found_in", None)
        embedded = details.pop("embedded_recipe", None)
        parameters = details.pop("a1111_parameters", None)
        details.pop("a1111", None)  # the same settings as the parameters text, parsed
        if embedded or parameters:
            found = self._section("Found in the file", f"In {found_in}." if found_in else "")
            if isinstance(embedded, Mapping):
                made_by = " ".join(
                    str(embedded.get(key) or "") for key in ("plugin_id", "plugin_version")
                ).strip()
                self._row(found, "Studio recipe", f"made by {made_by or 'a plugin'}")
            if isinstance(parameters, str) and parameters:
                self._row(found, "Generation settings", parameters)
        if details:
            self._add_details(details, "Details")

    def _add_inputs(self) -> None:
        try:
            links = self.store.inputs_of(self.asset.id)
        except ProjectError:
            links = []
        if not links:
            return
        self._section("Made from")
        for link in links:
            self._add_input(link.role, link.input_id, link.input_exists)

    def _add_input(self, role: str, asset_id: str, exists: bool) -> None:
        asset = None
        if exists:
            try:
                asset = self.store.get_asset(asset_id)
            except AssetNotFoundError:
                asset = None
        picture = QLabel()
        picture.setFixedSize(THUMBNAIL, THUMBNAIL)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        thumbnail = self._picture(asset, THUMBNAIL) if asset is not None else None
        if thumbnail is not None:
            picture.setPixmap(thumbnail)
        elif asset is not None:
            picture.setPixmap(self._kind_icon(asset.kind, THUMBNAIL))
        label = QLabel()
        label.setWordWrap(True)
        role_text = f"<b>{_escape(role or 'input')}</b>"
        if asset is None:
            label.setText(
                f"{role_text} · <i>not in this project any more</i><br>"
                f"<small>{_escape(asset_id)}</small>"
            )
        else:
            state = " (in the trash)" if asset.deleted else ""
            label.setText(
                f"{role_text} · {self._asset_link(asset_id, asset.title)}{state}<br>"
                f"<small>{KIND_LABELS[asset.kind]} · {_escape(asset_id)}</small>"
            )
            label.setToolTip("Show the recipe of this input")
            label.linkActivated.connect(self.asset_requested)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        row = self._grid.rowCount()
        self._grid.addWidget(picture, row, 0)
        self._grid.addWidget(label, row, 1, Qt.AlignmentFlag.AlignVCenter)
        self.input_rows.append(
            InputRow(
                role=role,
                asset_id=asset_id,
                title=asset.title if asset is not None else "",
                kind=asset.kind if asset is not None else None,
                thumbnail=thumbnail,
                label=label,
            )
        )

    def _add_uses(self) -> None:
        try:
            uses = self.store.document_uses(self.asset.id)
        except ProjectError:
            uses = []
        self.uses_label = QLabel(
            "Went into: "
            + "; ".join(f"“{u.document_title}” (revision {u.revision})" for u in uses[:5])
            + (f" and {len(uses) - 5} more" if len(uses) > 5 else "")
        )
        self.uses_label.setWordWrap(True)
        self.uses_label.setVisible(bool(uses))
        if uses:
            self._add_wide(self.uses_label, space_before=10)

    def _asset_link(self, asset_id: str, title: str | None = None) -> str:
        if title is None:
            try:
                title = self.store.get_asset(asset_id).title
            except (AssetNotFoundError, ProjectError):
                return f"{_escape(asset_id)} (not in this project any more)"
        return f'<a href="{_escape(asset_id)}">{_escape(title or asset_id)}</a>'

    def _picture(self, asset: Asset, size: int) -> QPixmap | None:
        """A thumbnail of an image asset, sharp on this screen; None for other kinds."""
        if asset.kind is not AssetKind.IMAGE:
            return None
        ratio = self.devicePixelRatioF()
        try:
            preview = make_preview(
                AssetKind.IMAGE, self.store.read_blob(asset.id), round(size * ratio)
            )
        except (ProjectError, OSError):
            return None
        if preview.image is None:
            return None
        pixmap = QPixmap.fromImage(preview.image)
        pixmap.setDevicePixelRatio(ratio)
        return pixmap

    def _kind_icon(self, kind: AssetKind, size: int) -> QPixmap:
        ratio = self.devicePixelRatioF()
        icon = draw_kind_icon(kind, round(size * 0.75 * ratio))
        icon.setDevicePixelRatio(ratio)
        return icon

    def _buttons(self) -> QDialogButtonBox:
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setDefault(True)  # Enter closes; nothing runs by accident
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setShortcut(QKeySequence("Ctrl+R"))
        self.command_button = QPushButton("Copy as Command Line")
        self.copy_button = QPushButton("Copy JSON")
        self.copy_button.setToolTip("Copy the whole recipe as JSON")
        for button in (self.rerun_button, self.command_button, self.copy_button):
            button.setAutoDefault(False)
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        generated = self.recipe is not None and self.recipe.origin is RecipeOrigin.GENERATED
        self.rerun_button.setVisible(generated)
        self.command_button.setVisible(generated)
        reason = self._rerun_problem()
        self.rerun_button.setEnabled(generated and not reason)
        self.rerun_button.setToolTip(
            reason or "Make this again in its panel, with the same settings and seed (Ctrl+R)"
        )
        self.command_button.setToolTip(
            "Copy a 'studio generate' command that makes this again in this project"
        )
        self.rerun_button.clicked.connect(self.rerun)
        self.command_button.clicked.connect(self.copy_command_line)
        self.copy_button.clicked.connect(self.copy_json)
        buttons.rejected.connect(self.reject)
        return buttons

    def _rerun_problem(self) -> str:
        """Why Re-run cannot work here, or "" (the pipeline checks the rest when it runs)."""
        if not can_rerun(self.asset):
            return "Only generated assets can be made again."
        if self.store.read_only:
            return "This project is open read-only: nothing can be added to it."
        if self.registry is not None and self.spec is None:
            return self.plugin_problem or "The plugin that made this is not installed."
        return ""

    # Actions ------------------------------------------------------------------------------------

    @Slot(bool)
    def _show_json(self, shown: bool) -> None:
        self.recipe_view.setVisible(shown)
        self.json_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    @Slot()
    def rerun(self) -> None:
        """Ask for the recipe to be run again (the main window runs it), then close."""
        if not self.rerun_button.isEnabled() or not self.rerun_button.isVisible():
            return
        self.rerun_requested.emit(self.asset.id)
        self.accept()

    @Slot()
    def copy_json(self) -> None:
        QGuiApplication.clipboard().setText(self.json_text)
        self.status_label.setText("Copied the recipe as JSON.")

    def command_line(self) -> str:
        """The ``studio generate`` line that makes this asset again ("" when none can)."""
        if self.recipe is None or self.store.path is None:
            return ""
        try:
            return command_line(self.recipe, self.store.path)
        except UserError:
            return ""

    @Slot()
    def copy_command_line(self) -> None:
        text = self.command_line()
        if not text:
            self.status_label.setText("No command line makes this asset.")
            return
        QGuiApplication.clipboard().setText(text)
        note = " (an untitled project: save it first to keep this path)"
        self.status_label.setText(
            "Copied a command line that makes this again"
            + (note if self.store.is_untitled else "")
            + "."
        )

    # For tests and screen readers ----------------------------------------------------------------

    def rows(self, section: str) -> list[tuple[str, str]]:
        """The (label, value) pairs shown in a section ("Settings", "Made by"...)."""
        return [
            (name.text().removesuffix(":"), value.text())
            for name, value in self.sections[section].rows
        ]


class _Section:
    """A titled group of rows in the dialog's grid."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[QLabel, QLabel]] = []


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _local_time(recipe: Recipe) -> str:
    return recipe.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s"


def _short(value: Any) -> str:
    text = format_value(value)
    return text if len(text) <= 300 else text[:299] + "…"


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return text
