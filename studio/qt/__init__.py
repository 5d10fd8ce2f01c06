"""Qt glue below the widgets: workers, job controller, bindings (QtCore/QtGui, no QtWidgets)."""
