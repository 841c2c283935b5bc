"""The inline CSS and the Markdown every chat block and card shares (nothing here knows about events)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: A chat block's box.
BOX_CSS = (
    "margin:4px 0;padding:6px 10px;border-radius:6px;font-family:sans-serif;font-size:13px;line-height:1.45;"
)
#: Preformatted text: commands, outputs, diffs.
PRE_CSS = (
    "font-family:SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace;margin:4px 0 0 0;padding:6px 8px;background:#f6f8fa;border-radius:4px;font-size:12px;"
    "overflow-x:auto;white-space:pre;max-height:360px;overflow-y:auto;color:#24292e"
)


@lru_cache(maxsize=1)
def _markdown() -> Any:
    import mistune

    # escape=True: model output is untrusted, raw HTML in it must show as text.
    return mistune.create_markdown(escape=True, plugins=["strikethrough", "table"])


def markdown_html(text: str) -> str:
    """Markdown → HTML with raw HTML escaped."""
    return str(_markdown()(text))
