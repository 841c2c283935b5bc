"""The version handshake and the list of installed agent backends."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from .. import __version__
from ..agents.backend import ENTRY_POINT_GROUP, backend_class
from ..errors import ChatMLError
from ..events import SCHEMA_VERSION


def handshake(client_version: str | None, client_schema: int | None) -> dict[str, Any]:
    """The server's versions, and whether the labextension that asked matches them.

    The sidebar and the server extension ship in one wheel, so they differ only when the page runs
    an old copy of the sidebar (the package was upgraded under a running Lab) or another
    environment's copy shadows this one. Both cases are fixed the same way, which the message says.
    """
    problems = []
    if client_version is not None and client_version != __version__:
        problems.append(
            f"the ChatML sidebar in this page is version {client_version} but the chatml-lab Python"
            f" package on the server is {__version__}"
        )
    if client_schema is not None and client_schema != SCHEMA_VERSION:
        problems.append(
            f"the sidebar reads event schema {client_schema} but the server writes schema {SCHEMA_VERSION}"
        )
    message = ""
    if problems:
        message = (
            "; ".join(problems) + ": restart JupyterLab and reload the page; if this stays, reinstall"
            f" with `pip install --force-reinstall chatml-lab=={__version__}` in the server's environment"
            " and check `jupyter labextension list` shows one chatml-lab"
        )
        message = message[0].upper() + message[1:]
    return {
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "client_version": client_version,
        "client_schema_version": client_schema,
        "compatible": not problems,
        "message": message,
    }


def backends() -> dict[str, Any]:
    """Installed agent backends, whether each can run here (and why not), and the default."""
    found = []
    for name in sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}):
        try:
            cls = backend_class(name)
            reason = cls.unavailable_reason()
            scripted = bool(cls.scripted)
        except ChatMLError as exc:
            reason, scripted = str(exc), False
        except Exception as exc:  # a broken third-party backend must not hide the others
            reason, scripted = f"cannot load: {type(exc).__name__}: {exc}", False
        found.append({"name": name, "available": reason is None, "reason": reason, "scripted": scripted})
    from ..agents.context import default_agent

    try:
        default: str | None = default_agent()
        default_reason = None
    except ChatMLError as exc:
        default, default_reason = None, str(exc)
    return {"backends": found, "default": default, "default_reason": default_reason}
