"""``chatml demo [OUT_DIR]``: three scripted agents edit a sample repository (:mod:`chatml_lab.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo (it needs no manager: it makes a temp data dir of its own)."""
    from .. import demo

    demo.run_demo(Path(args.out_dir) if args.out_dir else None)
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of ``demo`` and its handler."""
    parser.add_argument("out_dir", nargs="?", metavar="OUT_DIR", help="default: a new temp dir")
    # Runs without the user's manager: the demo must not open (or create) the user's store.
    parser.set_defaults(standalone=cmd_demo)
