"""The JupyterLab server extension: REST under ``/chatml/api/`` and a push channel for the sidebar.

Enabled on install by ``jupyter-config/jupyter_server_config.d/chatml_lab.json``. Imports are lazy:
listing extensions does not import the core.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import ChatMLServer

    return [{"module": "chatml_lab.server", "app": ChatMLServer}]
