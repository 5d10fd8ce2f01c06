"""The asset browser: every asset of the open project, newest first, in a dock of the window.

The list is an :class:`~studio.qt.asset_model.AssetListModel` in a ``QListView`` with uniform
item sizes, so it stays fast with tens of thousands of assets: rows are read a page at a time
as the user scrolls, and thumbnails are made off the GUI thread for the rows on screen only.
Renames and deletions go through the session's undo stack; opening an asset and re-running its
recipe are requests the main window answers (:attr:`AssetBrowser.open_requested`,
:attr:`AssetBrowser.rerun_requested`).
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QDragMoveEvent,
    QDropEvent,
    QFontMetrics,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import UserError
from studio.core.media.importing import ImportReport
from studio.core.project import Asset
from studio.core.project.assets import TEXT_KINDS
from studio.core.project.errors import AssetNotFoundError
from studio.core.registry import PluginRegistry
from studio.plugin_api.kinds import AssetKind
from studio.qt.asset_drag import local_paths
from studio.qt.asset_model import KIND_LABELS, AssetListModel, AssetRole
from studio.qt.project_session import ProjectSession
from studio.ui.recipe_dialog import RecipeDialog, can_rerun

KIND_CHOICES: tuple[tuple[str, AssetKind | None], ...] = (
    ("All", None),
    ("Text", AssetKind.TEXT),
    ("Images", AssetKind.IMAGE),
    ("Audio", AssetKind.AUDIO),
    ("Captions", AssetKind.CAPTION),
    ("Documents", AssetKind.DOCUMENT),
)

ICON_SIZE = 56
"""Logical pixels of a row's thumbnail; the model makes thumbnails twice as big for 2x screens."""

_PADDING = 6
_MESSAGE_SECONDS = 10


class AssetItemDelegate(QStyledItemDelegate):
    """Paints a row: the thumbnail or kind icon, the title, and one line below it.

    Every row has the same size, so the view never asks the model for data to measure rows
    (which would make it read every row and ask for every thumbnail).
    """

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        icon = option.decorationSize.height() or ICON_SIZE
        return QSize(160, icon + 2 * _PADDING)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        # The selection and hover background as the style draws it, without text or icon.
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        painter.save()
        rect = option.rect
        icon_size = option.decorationSize.height() or ICON_SIZE
        icon_rect = QRect(rect.left() + _PADDING, rect.top() + _PADDING, icon_size, icon_size)
        decoration = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(decoration, QPixmap) and not decoration.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(_fit(decoration.size(), icon_rect), decoration)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        group = (
            QPalette.ColorGroup.Normal
            if option.state & QStyle.StateFlag.State_Active
            else QPalette.ColorGroup.Inactive
        )
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_left = icon_rect.right() + 1 + _PADDING
        text_width = max(0, rect.right() - _PADDING - text_left)
        title_font = option.font
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(option.palette.color(group, text_role))
        metrics = painter.fontMetrics()
        lines = title_lines(str(index.data() or ""), metrics, text_width)
        # title lines, then the kind line, centred beside the thumbnail
        top = rect.top() + (rect.height() - (len(lines) + 1) * metrics.height() - 2) // 2
        for number, text in enumerate(lines):
            title_rect = QRect(
                text_left, top + number * metrics.height(), text_width, metrics.height()
            )
            painter.drawText(
                title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, text
            )
        middle = top + len(lines) * metrics.height()
        subtitle = str(index.data(AssetRole.SUBTITLE) or "")
        kind = index.data(AssetRole.KIND)
        line = " · ".join(part for part in (KIND_LABELS[AssetKind(kind)], subtitle) if part)
        title_font.setBold(False)
        painter.setFont(title_font)
        colour = option.palette.color(group, text_role)
        if not selected:
            colour.setAlphaF(0.65)  # the second line is quieter than the title
        painter.setPen(colour)
        metrics = painter.fontMetrics()
        line_rect = QRect(text_left, middle + 2, text_width, metrics.height())
        line = metrics.elidedText(line, Qt.TextElideMode.ElideRight, text_width)
        painter.drawText(line_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, line)
        painter.restore()

    def updateEditorGeometry(
        self,
        editor: QWidget,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        # Edit the title where it is drawn, beside the thumbnail.
        rect = option.rect
        left = rect.left() + 2 * _PADDING + (option.decorationSize.height() or ICON_SIZE)
        height = editor.sizeHint().height()
        top = rect.top() + rect.height() // 2 - height
        editor.setGeometry(QRect(left, top, max(40, rect.right() - _PADDING - left), height))


def title_lines(title: str, metrics: QFontMetrics, width: int) -> list[str]:
    """A title on one line, or two: the words that fit, then the rest with its middle left
    out, so its end (" · seed 7", " · re-run") still tells it from its siblings."""
    if metrics.horizontalAdvance(title) <= width:
        return [title]
    words = title.split(" ")
    first = words[0]
    for count in range(1, len(words)):
        candidate = " ".join(words[: count + 1])
        if metrics.horizontalAdvance(candidate) > width:
            break
        first = candidate
    if metrics.horizontalAdvance(first) > width:  # one long word
        first = metrics.elidedText(first, Qt.TextElideMode.ElideRight, width)
        return [first]
    rest = title[len(first) :].strip()
    return [first, metrics.elidedText(rest, Qt.TextElideMode.ElideMiddle, width)]


def _fit(size: QSize, box: QRect) -> QRect:
    """``size`` scaled to fit ``box`` (keeping its shape), centred in it."""
    scaled = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
    return QRect(
        box.left() + (box.width() - scaled.width()) // 2,
        box.top() + (box.height() - scaled.height()) // 2,
        scaled.width(),
        scaled.height(),
    )


class AssetListView(QListView):
    """The list of the browser, with its keys: Enter opens, F2 renames, Delete (or
    Ctrl+Backspace, which is Cmd+Backspace on macOS) deletes.

    The keys are handled here rather than as window shortcuts, so they act only while the list
    has the focus (Delete in a panel's text field must not delete assets).
    """

    open_pressed = Signal()
    rename_pressed = Signal()
    delete_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if plain and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_pressed.emit()
        elif plain and key == Qt.Key.Key_F2:
            self.rename_pressed.emit()
        elif (plain and key == Qt.Key.Key_Delete) or (
            key == Qt.Key.Key_Backspace and event.modifiers() == Qt.KeyboardModifier.ControlModifier
        ):
            self.delete_pressed.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()


class AssetBrowser(QWidget):
    """Browse the assets of the session's project: filter, search, open, rename, delete.

    Place it in a ``QDockWidget``; call :meth:`shutdown` when the window closes (it stops the
    browser's worker threads). Files dropped on it are imported into the project. Give it the
    plugin ``registry`` so that recipes show the plugins' names and option labels.

    Signals:
        open_requested(asset_id): the user wants the asset in its panel (Enter, double-click).
        rerun_requested(asset_id): the user wants the asset's recipe run again.
        caption_requested(asset_ids): the user wants the selected images captioned.
        speak_requested(asset_id): the user wants a text, caption or document spoken (the
            Voice panel).
        status_message(text): something to show in the window's status bar (imports, errors).
    """

    open_requested = Signal(str)
    rerun_requested = Signal(str)
    caption_requested = Signal(list)
    speak_requested = Signal(str)
    settings_requested = Signal(str)
    status_message = Signal(str)

    def __init__(
        self,
        session: ProjectSession,
        parent: QWidget | None = None,
        *,
        model: AssetListModel | None = None,
        search_delay_ms: int = 250,
        registry: PluginRegistry | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("asset-browser")
        self.session = session
        # The plugins, for the recipe dialog's labels; without them, options show their names.
        self.registry = registry
        self.model = model if model is not None else AssetListModel(session, parent=self)
        self._dialogs: list[RecipeDialog] = []

        self.kind_filter = QComboBox()
        for label, kind in KIND_CHOICES:
            self.kind_filter.addItem(label, kind)
        self.kind_filter.setToolTip("Show assets of one kind")
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search")
        self.search_box.setToolTip("Words to find in titles, prompts, texts and captions")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setAcceptDrops(False)  # files dropped here are imported, not typed
        # Each search reads the project again, so wait until the typing pauses.
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(search_delay_ms)

        self.view = AssetListView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(AssetItemDelegate(self.view))
        self.view.setUniformItemSizes(True)  # rows are never measured one by one
        self.view.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)  # F2 edits
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        # Assets are dragged out onto panels (an image onto Captioning, a text onto Voice).
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setDefaultDropAction(Qt.DropAction.CopyAction)

        self.status_label = QLabel()
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long message wraps inside the dock instead of widening the dock and the window.
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.setInterval(_MESSAGE_SECONDS * 1000)

        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.kind_filter)
        filters.addWidget(self.search_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status_label)
        self.setAcceptDrops(True)

        self.open_action = self._action("Open", self.open_current, QKeySequence(Qt.Key.Key_Return))
        self.rename_action = self._action(
            "Rename", self.rename_current, QKeySequence(Qt.Key.Key_F2)
        )
        self.delete_action = self._action(
            "Delete", self.delete_selected, QKeySequence(QKeySequence.StandardKey.Delete)
        )
        self.show_recipe_action = self._action("Show Recipe…", self.show_current_recipe)
        self.rerun_action = self._action("Re-run Recipe", self.rerun_current)
        self.caption_action = self._action("Caption This", self.caption_selected)
        self.speak_action = self._action("Send to Voice", self.speak_current)
        self.speak_action.setToolTip("Speak this text in the Voice panel")
        self.settings_action = self._action("Use These Settings", self.use_settings_of_current)
        self.settings_action.setToolTip(
            "Fill the Image panel with the settings this picture was made with (Studio, "
            "AUTOMATIC1111 or ComfyUI)"
        )

        self.kind_filter.currentIndexChanged.connect(self.apply_filter)
        self.search_box.textChanged.connect(self._search_timer.start)
        self.search_box.returnPressed.connect(self.apply_filter)
        self._search_timer.timeout.connect(self.apply_filter)
        self._message_timer.timeout.connect(self._show_count)
        self.view.doubleClicked.connect(self._open_index)
        self.view.open_pressed.connect(self.open_current)
        self.view.rename_pressed.connect(self.rename_current)
        self.view.delete_pressed.connect(self.delete_selected)
        self.view.customContextMenuRequested.connect(self._show_context_menu)
        self.view.selectionModel().selectionChanged.connect(self._update_actions)
        self.view.selectionModel().currentChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._update_actions)
        self.model.rowsRemoved.connect(self._update_actions)
        self.model.dataChanged.connect(self._update_actions)
        self.model.count_changed.connect(self._show_count)
        self.model.loading_changed.connect(self._show_count)
        self.model.query_failed.connect(self.show_message)
        self.model.rename_failed.connect(self.show_message)
        session.files_imported.connect(self._imported)
        session.project_changed.connect(self._close_recipe_dialogs)
        self._show_count()
        self._update_actions()

    def _action(self, text: str, slot, shortcut: QKeySequence | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            # Shown in the context menu; the list handles the keys itself (AssetListView).
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(slot)
        return action

    # What is selected -------------------------------------------------------------------------

    def current_asset(self) -> Asset | None:
        index = self.view.currentIndex()
        if not index.isValid() or not self.view.selectionModel().isSelected(index):
            return None
        return index.data(AssetRole.ASSET)

    def selected_ids(self) -> list[str]:
        """The ids of the selected assets, top to bottom."""
        indexes = sorted(self.view.selectionModel().selectedIndexes(), key=QModelIndex.row)
        return [index.data(AssetRole.ID) for index in indexes]

    @Slot()
    def _update_actions(self) -> None:
        asset = self.current_asset()
        selected = self.view.selectionModel().hasSelection()
        writable = not self.session.store.read_only
        self.open_action.setEnabled(asset is not None)
        self.rename_action.setEnabled(asset is not None and writable)
        self.delete_action.setEnabled(selected and writable)
        self.show_recipe_action.setEnabled(asset is not None)
        self.rerun_action.setEnabled(asset is not None and can_rerun(asset))
        self.caption_action.setEnabled(bool(self.selected_image_ids()))
        self.speak_action.setEnabled(asset is not None and asset.kind in TEXT_KINDS)
        self.settings_action.setEnabled(asset is not None and asset.kind is AssetKind.IMAGE)

    # Filtering --------------------------------------------------------------------------------

    @Slot()
    def apply_filter(self) -> None:
        """Show what the kind filter and the search box ask for (now, without waiting)."""
        self._search_timer.stop()
        self.model.set_filter(self.kind_filter.currentData(), self.search_box.text())

    @Slot()
    def _show_count(self) -> None:
        if self._message_timer.isActive():
            return  # a message is showing; the count comes back when it times out
        if self.model.loading:
            text = "Loading…"
        else:
            total = self.model.total
            filtered = self.model.kind is not None or self.model.search
            text = f"{total:,} {'matching ' if filtered else ''}asset{'s' if total != 1 else ''}"
        self.status_label.setText(text)
        self.status_label.setToolTip("")

    @Slot(str)
    def show_message(self, text: str, details: str = "") -> None:
        """Show a message under the list for a while (and in the window's status bar)."""
        self.status_label.setText(text)
        self.status_label.setToolTip(details)
        self._message_timer.start()
        self.status_message.emit(text)

    # Actions ----------------------------------------------------------------------------------

    @Slot(QModelIndex)
    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.open_requested.emit(index.data(AssetRole.ID))

    @Slot()
    def open_current(self) -> None:
        asset = self.current_asset()
        if asset is not None:
            self.open_requested.emit(asset.id)

    @Slot()
    def rename_current(self) -> None:
        """Edit the current asset's title in place (Enter commits, Escape cancels)."""
        index = self.view.currentIndex()
        if index.isValid() and self.rename_action.isEnabled():
            self.view.edit(index)

    @Slot()
    def delete_selected(self) -> None:
        """Delete the selected assets (one undoable step; Edit > Undo brings them back)."""
        asset_ids = self.selected_ids()
        if not asset_ids or not self.delete_action.isEnabled():
            return
        next_row = min(self.view.selectionModel().selectedRows(), key=QModelIndex.row).row()
        try:
            self.session.delete(asset_ids)
        except UserError as exc:
            self.show_message(str(exc))
            return
        count = len(asset_ids)
        self.show_message(f"Deleted {count} asset{'s' if count != 1 else ''} (Edit > Undo).")
        # Keep the keyboard where it was: the row that moved up into the gap becomes current.
        row = min(next_row, self.model.rowCount() - 1)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row))

    @Slot()
    def show_current_recipe(self) -> RecipeDialog | None:
        asset = self.current_asset()
        return None if asset is None else self.show_recipe(asset.id)

    def show_recipe(self, asset_id: str) -> RecipeDialog:
        """Open (without blocking) a dialog with the asset's recipe and lineage."""
        dialog = RecipeDialog(
            self.session.store, self.session.asset(asset_id), self, registry=self.registry
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._forget_dialogs)
        dialog.rerun_requested.connect(self.rerun_asset)
        dialog.asset_requested.connect(self._show_recipe_of)
        self._dialogs.append(dialog)
        dialog.show()
        return dialog

    @Slot(str)
    def _show_recipe_of(self, asset_id: str) -> None:
        """An asset named in a recipe dialog (an input): its own recipe, if it is still here."""
        try:
            self.show_recipe(asset_id)
        except AssetNotFoundError:
            self.show_message(f"The asset {asset_id} is not in this project any more.")

    @Slot()
    def _forget_dialogs(self) -> None:
        self._dialogs = [dialog for dialog in self._dialogs if dialog.isVisible()]

    @Slot()
    def _close_recipe_dialogs(self) -> None:
        """Another project is open: the dialogs showed the last one's assets."""
        for dialog in list(self._dialogs):
            dialog.close()

    @Slot()
    def rerun_current(self) -> None:
        asset = self.current_asset()
        if asset is not None:
            self.rerun_asset(asset.id)

    @Slot(str)
    def rerun_asset(self, asset_id: str) -> None:
        """Ask for the asset's recipe to run again (the main window runs it)."""
        try:
            asset = self.session.asset(asset_id)
        except AssetNotFoundError:
            self.show_message(f"The asset {asset_id} is not in this project any more.")
            return
        if can_rerun(asset):
            self.rerun_requested.emit(asset_id)

    def selected_image_ids(self) -> list[str]:
        """The ids of the selected image assets, top to bottom."""
        indexes = sorted(self.view.selectionModel().selectedIndexes(), key=QModelIndex.row)
        assets = [index.data(AssetRole.ASSET) for index in indexes]
        return [a.id for a in assets if a is not None and a.kind is AssetKind.IMAGE]

    def use_settings_of_current(self) -> None:
        asset = self.current_asset()
        if asset is not None and asset.kind is AssetKind.IMAGE:
            self.settings_requested.emit(asset.id)

    def speak_current(self) -> None:
        asset = self.current_asset()
        if asset is not None and asset.kind in TEXT_KINDS:
            self.speak_requested.emit(asset.id)

    def caption_selected(self) -> None:
        ids = self.selected_image_ids()
        if ids:
            self.caption_requested.emit(ids)

    @Slot(QPoint)
    def _show_context_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if index.isValid() and not self.view.selectionModel().isSelected(index):
            self.view.setCurrentIndex(index)  # a right click on another row acts on that row
        menu = self.context_menu()
        menu.exec(self.view.viewport().mapToGlobal(position))
        menu.deleteLater()

    def context_menu(self) -> QMenu:
        """The menu of the selected assets (built afresh, so its actions are up to date)."""
        self._update_actions()
        menu = QMenu(self)
        menu.addAction(self.open_action)
        menu.addAction(self.show_recipe_action)
        menu.addAction(self.rerun_action)
        if self.selected_image_ids():  # only images can be captioned
            menu.addAction(self.caption_action)
        current = self.current_asset()
        if current is not None and current.kind is AssetKind.IMAGE:
            menu.addAction(self.settings_action)
        if current is not None and current.kind in TEXT_KINDS:
            menu.addAction(self.speak_action)
        menu.addSeparator()
        menu.addAction(self.rename_action)
        menu.addAction(self.delete_action)
        return menu

    # Importing by drag and drop --------------------------------------------------------------

    def dragEnterEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()) and not self.session.store.read_only:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_paths(paths)

    def import_paths(self, paths: list[Path]) -> Future[ImportReport] | None:
        """Import files into the project on a worker thread; what was imported and what was
        refused (with the reason) is reported under the list when it is done."""
        if self.session.store.read_only:
            self.show_message("This project is open read-only: nothing can be imported.")
            return None
        count = len(paths)
        self.show_message(f"Importing {count} file{'s' if count != 1 else ''}…")
        return self.session.import_files(paths)

    @Slot(object)
    def _imported(self, report: ImportReport) -> None:
        parts = []
        added, held = len(report.added), len(report.assets) - len(report.added)
        if added:
            parts.append(f"Imported {added} file{'s' if added != 1 else ''}.")
        if held:
            parts.append(
                f"{held} file{'s were' if held != 1 else ' was'} in the project already "
                "(the same content)."
            )
        refused = [f"{name}: {reason}" for name, reason in report.refused]
        if refused:
            parts.append(refused[0] if len(refused) == 1 else f"{len(refused)} files refused.")
        self.show_message(" ".join(parts) or "Nothing to import.", "\n".join(refused))

    # Ending -----------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the model's worker threads; call it when the window closes."""
        self.model.shutdown()
