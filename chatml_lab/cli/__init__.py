"""The ``chatml`` command line: the same API as the notebook, from a terminal.

:mod:`.app` builds the parser, runs the command and turns errors into one line on stderr (exit
status 1, no traceback). Each command group lives in a module of its own (:mod:`.sessions`,
:mod:`.workspaces`, :mod:`.agents`, :mod:`.ship`, :mod:`.housekeeping`, :mod:`.settings`,
:mod:`.demo`, :mod:`.doctor`), imported only when one of its commands runs.
"""

from __future__ import annotations

from .app import build_parser, main

__all__ = ["build_parser", "main"]
