"""``chatml settings``: show or change the workspaces directory and the branch prefix."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_settings(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml settings [--workspaces-dir DIR] [--branch-prefix P]``: change, then print every setting."""
    if args.workspaces_dir is not None:
        cm.set_setting("workspaces_dir", args.workspaces_dir or None)
    if args.branch_prefix is not None:
        cm.set_setting("branch_prefix", args.branch_prefix)
    for key, value in cm.settings().items():
        print(f"{key}: {value}")
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of ``settings`` and its handler."""
    parser.add_argument(
        "--workspaces-dir", dest="workspaces_dir", help="base directory of worktrees ('' resets)"
    )
    parser.add_argument("--branch-prefix", dest="branch_prefix", help="branch prefix ('none' for no prefix)")
    parser.set_defaults(func=cmd_settings)
