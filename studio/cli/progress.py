"""What the commands that show progress share: ``-q/--quiet``."""

from __future__ import annotations

import argparse

QUIET_HELP = "no progress on stderr (results, warnings and errors are still printed)"


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """``-q/--quiet``, the same on every command that shows progress (``generate``, ``recipe
    rerun``, ``project repair``, ``doctor``)."""
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
