"""The runner process: ``python -m chatml_lab.core.runner_main CONVERSATION_ID --data-dir DIR --token T``.

:mod:`chatml_lab.agents.runner` serves the conversation; this entry point composes it with the
one core service it needs and may not import itself: auto-naming, which renames the session and
its branch through the manager.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from ..agents import runner
from ..config import Config
from . import autoname
from .manager import ChatML


def main(argv: list[str] | None = None) -> int:
    """Entry point of the runner process (the core's :class:`~chatml_lab.core.agents.AgentControl` starts it)."""
    args = runner.parse_args(argv)
    config = Config.from_json(args.config) if args.config else Config()
    manager = ChatML(data_dir=Path(args.data_dir), config=config)
    try:
        return runner.serve(manager.store, args, namer=partial(autoname.apply_name, manager), config=config)
    finally:
        manager.close()


if __name__ == "__main__":
    sys.exit(main())
