"""The runner process: ``python -m chatml_lab.core.runner_main CONVERSATION_ID --data-dir DIR --token T``.

:mod:`chatml_lab.agents.runner` serves the conversation; this entry point composes it with the
core services it needs and may not import itself: auto-naming, which renames the session and its
branch through the manager, and linking a pull request the agent opened (``gh pr create``).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from ..agents import runner
from ..config import Config
from . import autoname
from .manager import ChatML


def _link_pr(manager: ChatML, session_id: str, output: str) -> int | None:
    """Link the PR whose URL ``output`` shows (GitHub's client is loaded only when one does)."""
    return manager.shipping.shipper.link_from_output(session_id, output)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the runner process (the core's :class:`~chatml_lab.core.agents.AgentControl` starts it)."""
    args = runner.parse_args(argv)
    config = Config.from_json(args.config) if args.config else Config()
    manager = ChatML(data_dir=Path(args.data_dir), config=config)
    try:
        return runner.serve(
            manager.store, args, namer=partial(autoname.apply_name, manager), config=config,
            pr_linker=partial(_link_pr, manager),
        )  # fmt: skip
    finally:
        manager.close()


if __name__ == "__main__":
    sys.exit(main())
