"""The process one engine check runs in: ``python -m studio.core.engine_check_child PLUGIN CHECK
VARIANT``.

It prints one line, :data:`~studio.core.engine_checks.RESULT_MARKER` followed by a JSON pair
``[outcome, detail]``, and exits 0. A crash in native code kills only this process; the parent
(:func:`~studio.core.engine_checks.run_attempt`) reads the signal, and Python's faulthandler has
written the crashing stack to stderr, which the parent logs.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
from pathlib import Path

from studio.core.engine_checks import BROKEN, PASSED, PLUGIN_DIRS_ENV, RESULT_MARKER, WRONG
from studio.core.offline import enforce_offline


def _say(outcome: str, detail: str) -> None:
    sys.stdout.write(RESULT_MARKER + json.dumps([outcome, detail]) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    faulthandler.enable()
    enforce_offline()
    plugin_id, check_id, variant = argv
    from studio.core.paths import Paths
    from studio.core.registry import PluginRegistry
    from studio.plugin_api import EngineCheckFailed
    from studio.plugin_api.engine_checks import CheckContext

    dirs = [Path(p) for p in os.environ.get(PLUGIN_DIRS_ENV, "").split(os.pathsep) if p]
    registry = PluginRegistry(plugin_dirs=dirs)
    try:
        plugin_class = registry.plugin_class(plugin_id)
        check = next(c for c in plugin_class.engine_checks if c.id == check_id)
    except Exception as exc:  # StopIteration included: the plugin has no such check
        _say(BROKEN, f"the plugin or its check cannot be loaded: {exc}")
        return 0
    started = time.perf_counter()
    try:
        ctx = CheckContext(
            check=check,
            variant=variant,
            workdir=Path.cwd(),
            cache_dir=Paths.from_environment().data_dir / "models" / plugin_id,
        )
        detail = plugin_class().check_engine(ctx)
    except EngineCheckFailed as exc:
        _say(WRONG, str(exc))
    except Exception as exc:
        _say(BROKEN, f"{type(exc).__name__}: {exc}".strip())
    else:
        _say(PASSED, f"{detail} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
