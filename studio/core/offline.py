"""Keep model libraries off the network unless the user asked for it.

Called first thing by every entry point (window, command line, child processes), before
huggingface_hub, transformers or diffusers can be imported and read these variables.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

OFFLINE_VARIABLES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def enforce_offline(environ: MutableMapping[str, str] | None = None) -> None:
    """Set the offline switches of the Hugging Face libraries in ``environ`` (the process's)."""
    environ = os.environ if environ is None else environ
    environ.update(OFFLINE_VARIABLES)
