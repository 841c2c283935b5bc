"""``%chatml push|pr|merge|update|prs|conflicts``: their arguments, parsed by pure functions.

Registered into :data:`chatml_lab.ipython.args.SUBCOMMANDS`; only the standard library here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgumentError


@dataclass(frozen=True)
class Push:
    """``push NAME [--force-with-lease]``."""

    name: str
    force_with_lease: bool = False


@dataclass(frozen=True)
class PullRequest:
    """``pr NAME [--title T] [--body B] [--draft] [--base BRANCH]``."""

    name: str
    title: str | None = None
    body: str | None = None
    draft: bool = False
    base: str | None = None


@dataclass(frozen=True)
class Merge:
    """``merge NAME [--method squash|merge|rebase] [--force]``."""

    name: str
    method: str = "squash"
    force: bool = False


@dataclass(frozen=True)
class Update:
    """``update NAME [--rebase|--merge|--abort]``."""

    name: str
    method: str = "rebase"
    abort: bool = False


@dataclass(frozen=True)
class Prs:
    """``prs [--workspace W]``: refresh PR status now and show it."""

    workspace: str | None = None


@dataclass(frozen=True)
class Conflicts:
    """``conflicts [--workspace W] [--committed]``: the conflict forecast."""

    workspace: str | None = None
    committed: bool = False


ShipCommand = Push | PullRequest | Merge | Update | Prs | Conflicts
SHIP = ("push", "pr", "merge", "update", "prs", "conflicts")


def _parsers(make: Callable[[str], Any]) -> dict[str, tuple[str, Callable[[], Any]]]:
    """The subcommands, built with the magic's parser factory ``make(sub)``."""

    def push() -> Any:
        p = make("push")
        p.add_argument("name", metavar="NAME")
        p.add_argument("--force-with-lease", dest="force_with_lease", action="store_true")
        return p

    def pr() -> Any:
        p = make("pr")
        p.add_argument("name", metavar="NAME")
        p.add_argument("--title", metavar="TITLE")
        p.add_argument("--body", metavar="BODY")
        p.add_argument("--draft", action="store_true")
        p.add_argument("--base", metavar="BRANCH")
        return p

    def merge() -> Any:
        p = make("merge")
        p.add_argument("name", metavar="NAME")
        p.add_argument("--method", metavar="{squash,merge,rebase}", default="squash")
        p.add_argument("--force", action="store_true")
        return p

    def update() -> Any:
        p = make("update")
        p.add_argument("name", metavar="NAME")
        how = p.add_mutually_exclusive_group()
        how.add_argument("--rebase", action="store_true")
        how.add_argument("--merge", action="store_true")
        how.add_argument("--abort", action="store_true")
        return p

    def prs() -> Any:
        p = make("prs")
        p.add_argument("--workspace", metavar="NAME")
        return p

    def conflicts() -> Any:
        p = make("conflicts")
        p.add_argument("--workspace", metavar="NAME")
        p.add_argument("--committed", action="store_true")
        return p

    return {
        "push": ("push a session's branch (upstream set; never a plain force)", push),
        "pr": ("open a pull request for a session (or link the open one)", pr),
        "merge": ("merge a session's pull request", merge),
        "update": ("rebase (or merge) a session onto origin's default branch; --abort undoes", update),
        "prs": ("refresh pull-request status now and show it", prs),
        "conflicts": ("forecast conflicts between sessions and with main", conflicts),
    }


def build(sub: str, ns: argparse.Namespace, hint: str) -> ShipCommand:
    """The command object of a parsed shipping subcommand."""
    if sub == "push":
        return Push(ns.name, ns.force_with_lease)
    if sub == "pr":
        return PullRequest(ns.name, ns.title, ns.body, ns.draft, ns.base)
    if sub == "merge":
        if ns.method not in ("squash", "merge", "rebase"):
            raise InvalidArgumentError(
                f"unknown merge method {ns.method!r}: use squash, merge or rebase" + hint
            )
        return Merge(ns.name, ns.method, ns.force)
    if sub == "update":
        return Update(ns.name, "merge" if ns.merge else "rebase", ns.abort)
    if sub == "prs":
        return Prs(ns.workspace)
    return Conflicts(ns.workspace, ns.committed)
