"""Widgets, dialogs and the main window (the only layer that uses QtWidgets)."""
