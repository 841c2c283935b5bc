"""``chatml doctor``: what is installed and configured (:mod:`chatml_lab.doctor`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_doctor(cm: ChatML, args: argparse.Namespace) -> int:
    """Print the checks; exit 1 when a required one failed."""
    from ..doctor import failed, format_checks, run_checks

    checks = run_checks(cm)
    print(format_checks(checks))
    return 1 if failed(checks) else 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """``doctor`` takes no arguments."""
    parser.set_defaults(func=cmd_doctor)
