"""The dashboard's new-session form: name, priority, repository, agent, permission mode, prompt, Create.

The agent is chosen among the backends installed in the ``chatml_lab.backends`` entry-point group
(or left to the default), the permission mode among :class:`~chatml_lab.models.PermissionMode`.
Every field fits a 1,000 px output area: widths are capped, not fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..agents.backend import installed_backends
from ..models import PermissionMode, Priority
from ..render import badges

#: The agent dropdown's value for "let the manager choose" (``default_agent()`` at creation).
DEFAULT_AGENT = ""
_LABEL = {"description_width": "80px"}


def agent_choices(preset: str | None) -> list[tuple[str, str]]:
    """``(label, value)`` of the agent dropdown: the default, each installed backend, and ``preset``.

    ``preset`` (the configured default agent, for example ``scripted:PATH``) is listed even when it
    is not a plain backend name, so the form starts on what the configuration says.
    """
    names = installed_backends()
    extra = [preset] if preset and preset not in names else []
    return [("default agent", DEFAULT_AGENT), *((name, name) for name in [*names, *extra])]


def _field(width: str) -> widgets.Layout:
    return widgets.Layout(width="100%", max_width=width)


class NewSessionForm(widgets.VBox):  # type: ignore[misc]
    """Name, priority, repository, agent, permission mode and prompt of a new session, and a Create button."""

    def __init__(
        self,
        on_create: Callable[[dict[str, Any]], None],
        default_repo: str | None,
        agent: str | None,
        permission_mode: str | None = None,
    ) -> None:
        self.name = widgets.Text(
            placeholder="generated when empty", description="Name", style=_LABEL, layout=_field("360px")
        )
        self.priority = widgets.Dropdown(
            options=badges.choices(Priority), value="none", description="Priority", style=_LABEL,
            layout=_field("220px"),
        )  # fmt: skip
        self.repo = widgets.Text(
            value=default_repo or "", placeholder="repository path or workspace name", description="Repository",
            style=_LABEL, layout=_field("600px"),
        )  # fmt: skip
        self.agent = widgets.Dropdown(
            options=agent_choices(agent), value=agent or DEFAULT_AGENT, description="Agent", style=_LABEL,
            layout=_field("360px"),
        )  # fmt: skip
        mode = (
            PermissionMode.parse(permission_mode).value if permission_mode else PermissionMode.DEFAULT.value
        )
        self.permission_mode = widgets.Dropdown(
            options=badges.choices(PermissionMode), value=mode, description="Permissions", style=_LABEL,
            tooltip="default: ask before Write, Edit and Bash · accept edits: ask before Bash · "
            "bypass: never ask · plan: read-only",
            layout=_field("220px"),
        )  # fmt: skip
        self.prompt = widgets.Textarea(
            placeholder="What should the agent do? (optional: starts the agent at once)", description="Prompt",
            style=_LABEL, layout=widgets.Layout(width="100%", max_width="600px", height="60px"),
        )  # fmt: skip
        self.create = widgets.Button(description="Create session", button_style="success")
        self.create.on_click(lambda _: on_create(self.values()))
        wrap = widgets.Layout(flex_flow="row wrap")
        super().__init__(
            [
                widgets.HBox([self.name, self.priority], layout=wrap),
                self.repo,
                widgets.HBox([self.agent, self.permission_mode], layout=wrap),
                self.prompt,
                self.create,
            ],
            layout=widgets.Layout(padding="6px"),
        )

    def values(self) -> dict[str, Any]:
        """The form as ``new_session`` keyword arguments (empty fields left out)."""
        values: dict[str, Any] = {
            "name": self.name.value.strip() or None, "repo_or_workspace": self.repo.value.strip() or None,
            "agent": self.agent.value or None, "priority": self.priority.value,
            "permission_mode": self.permission_mode.value, "prompt": self.prompt.value.strip() or None,
        }  # fmt: skip
        return {key: value for key, value in values.items() if value is not None}

    def clear(self) -> None:
        """Empty the name and prompt after a successful creation."""
        self.name.value = ""
        self.prompt.value = ""
