"""chatml_lab: ChatML's way of working in Jupyter — many coding agents, each in its own session.

Imports are lazy so that ``%load_ext chatml_lab`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .core.manager import ChatML
    from .core.session import Session

__all__ = ["ChatML", "Session", "__version__", "load_ipython_extension", "unload_ipython_extension"]


def __getattr__(name: str) -> Any:
    if name == "ChatML":
        from .core.manager import ChatML

        return ChatML
    if name == "Session":
        from .core.session import Session

        return Session
    raise AttributeError(f"module 'chatml_lab' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext chatml_lab``: register the ``%chatml`` magics."""
    from .ipython.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext chatml_lab``: stop the dashboard and chat pollers the magics started, drop the magics."""
    from .ipython.magics import unload

    unload(ipython)
