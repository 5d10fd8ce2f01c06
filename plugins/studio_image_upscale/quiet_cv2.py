"""Import the ncnn upscaler packages without letting OpenCV disturb the app's Qt.

The ncnn packages import ``cv2`` at module import. The full ``opencv-python`` wheel (which
they declare) bundles its own Qt and sets ``QT_QPA_PLATFORM_PLUGIN_PATH`` and ``QT_QPA_FONTDIR``
when imported; beside PySide6 that breaks Qt's platform plugin lookup for anything Qt starts
later in the same process (a window, a second QApplication in a child process that inherits the
environment). ``opencv-python-headless`` provides the same ``cv2`` without Qt, and this module
makes the import harmless with either: every ``QT_*`` variable is put back as it was.
"""

from __future__ import annotations

import importlib
import os
import threading
from types import ModuleType

_LOCK = threading.Lock()


def _qt_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key.startswith("QT_")}


def import_without_qt_side_effects(module: str) -> ModuleType:
    """Import ``module`` and undo any change it makes to ``QT_*`` environment variables."""
    with _LOCK:
        saved = _qt_environment()
        try:
            return importlib.import_module(module)
        finally:
            for key in [key for key in os.environ if key.startswith("QT_") and key not in saved]:
                del os.environ[key]
            for key, value in saved.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value
