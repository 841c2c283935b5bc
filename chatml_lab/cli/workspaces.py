"""``chatml workspace add|list|set|remove``: the repositories sessions are made from."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..errors import ChatMLError

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_workspace(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml workspace add PATH | list | set NAME [--path P] [--github-repo OWNER/NAME] | remove NAME``."""
    if args.ws_command == "add":
        ws = cm.add_workspace(args.path, name=args.name)
        print(f"added workspace {ws.name} ({ws.path}), default branch {ws.default_branch}"
              f"{', remote ' + ws.remote if ws.remote else ', no remote'}")  # fmt: skip
    elif args.ws_command == "list":
        items = cm.workspaces()
        if args.json:
            print(json.dumps([{"name": w.name, "path": str(w.path), "default_branch": w.default_branch,
                               "remote": w.remote} for w in items], indent=2))  # fmt: skip
        elif not items:
            print("no workspaces (add one with `chatml workspace add PATH`)")
        for w in [] if args.json else items:
            print(f"{w.name}\t{w.path}\t{w.default_branch}\t{w.remote or '-'}")
    elif args.ws_command == "set":
        if args.path is None and args.github_repo is None:
            raise ChatMLError(
                "nothing to set: give --path P (where the repository is now) or --github-repo OWNER/NAME"
                " ('' goes back to the remote URL)"
            )
        ws = cm.update_workspace(args.workspace, path=args.path, github_repo=args.github_repo)
        if args.path is not None:
            print(f"workspace {ws.name} is at {ws.path}")
        if args.github_repo is not None:
            repo = cm.github_repo(ws.name)
            print(f"workspace {ws.name}: GitHub repository {repo or '(none: the remote URL names none)'}")
    elif args.ws_command == "remove":
        ws = cm.workspace(args.workspace)
        cm.remove_workspace(args.workspace, force=args.force)
        print(f"removed workspace {ws.name} (the repository at {ws.path} is untouched)")
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The ``workspace`` subcommands and their handler."""
    ws_sub = parser.add_subparsers(dest="ws_command", required=True)
    ws_add = ws_sub.add_parser("add", help="register a git repository")
    ws_add.add_argument("path")
    ws_add.add_argument("--name")
    ws_list = ws_sub.add_parser("list", help="list workspaces")
    ws_list.add_argument("--json", action="store_true")
    ws_set = ws_sub.add_parser("set", help="re-point a workspace after a move, or name its GitHub repository")
    ws_set.add_argument("workspace")
    ws_set.add_argument("--path", help="where the repository is now")
    ws_set.add_argument("--github-repo", dest="github_repo", metavar="OWNER/NAME")
    ws_rm = ws_sub.add_parser("remove", help="forget a workspace (the repository is untouched)")
    ws_rm.add_argument("workspace")
    ws_rm.add_argument("--force", action="store_true")
    parser.set_defaults(func=cmd_workspace)
