"""The dashboard's new-session form: name, repository, agent, priority and prompt, and a Create button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..models import Priority


class NewSessionForm(widgets.VBox):  # type: ignore[misc]
    """Name, repository, prompt, agent and priority of a new session, and a Create button."""

    def __init__(
        self, on_create: Callable[[dict[str, Any]], None], default_repo: str | None, agent: str | None
    ) -> None:
        wide = widgets.Layout(width="320px")
        self.name = widgets.Text(placeholder="generated when empty", description="Name", layout=wide)
        self.repo = widgets.Text(
            value=default_repo or "", placeholder="repository path or workspace name", description="Repository",
            layout=widgets.Layout(width="520px"),
        )  # fmt: skip
        self.agent = widgets.Text(
            value=agent or "",
            placeholder="anthropic | claude-code | scripted",
            description="Agent",
            layout=wide,
        )
        self.priority = widgets.Dropdown(
            options=[p.value for p in Priority], value="none", description="Priority"
        )
        self.prompt = widgets.Textarea(
            placeholder="What should the agent do? (optional: starts the agent at once)", description="Prompt",
            layout=widgets.Layout(width="520px", height="60px"),
        )  # fmt: skip
        self.create = widgets.Button(description="Create session", button_style="success")
        self.create.on_click(lambda _: on_create(self.values()))
        super().__init__(
            [widgets.HBox([self.name, self.priority]), self.repo, self.agent, self.prompt, self.create],
            layout=widgets.Layout(padding="6px"),
        )

    def values(self) -> dict[str, Any]:
        """The form as ``new_session`` keyword arguments (empty fields left out)."""
        values: dict[str, Any] = {
            "name": self.name.value.strip() or None, "repo_or_workspace": self.repo.value.strip() or None,
            "agent": self.agent.value.strip() or None, "priority": self.priority.value,
            "prompt": self.prompt.value.strip() or None,
        }  # fmt: skip
        return {key: value for key, value in values.items() if value is not None}

    def clear(self) -> None:
        """Empty the name and prompt after a successful creation."""
        self.name.value = ""
        self.prompt.value = ""
