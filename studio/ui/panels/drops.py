"""What a panel does with things dropped on it: assets from the asset browser, and files.

:class:`PanelDrops` is a part of :class:`~studio.ui.panels.base.PanelWidget`: an event filter
that sees drags before a panel's own handlers, shows the highlight with what a drop will do (or
why it cannot), and routes a dropped asset to the input or editor that takes it. Project files
and model files that a panel does not take are left to the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent

from studio.core.model_files import model_panel
from studio.core.project.assets import KIND_WORDS, TEXT_KINDS, Asset
from studio.plugin_api import AssetKind
from studio.qt.asset_drag import DraggedAssets, dragged_assets, local_paths
from studio.ui.widgets import FileInput

_DRAG_EVENTS = (
    QEvent.Type.DragEnter,
    QEvent.Type.DragMove,
    QEvent.Type.DragLeave,
    QEvent.Type.Drop,
)


class PanelDrops:
    """Drops for a panel (mixed into :class:`~studio.ui.panels.base.PanelWidget`)."""

    def take_text_asset(self, asset: Asset, text: str) -> bool:
        """A text, caption or document was dropped: use it (True) or not (False, the
        default)."""
        return False

    def takes_text_assets(self) -> str:
        """What a dropped text asset becomes here ("the document"), or "" if refused."""
        return ""

    def _input_for(self, kind: AssetKind) -> tuple[str, FileInput] | None:
        for role, widget in self.file_inputs().items():
            if self.model.input_kind(role) is kind and widget.isVisibleTo(self):
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
            self.model.show_error(message)
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
            self.model.show_error(self.drop_overlay.message)
            event.ignore()
            return True
        return False
