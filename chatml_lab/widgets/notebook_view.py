"""A notebook ``Write`` shown as nbdime's cell-level diff instead of its JSON text.

The :data:`~chatml_lab.render.html.ToolView` the chat panel and the report hand to
:func:`~chatml_lab.render.html.render_block`: the shared rendering draws, while the diffing
belongs to :mod:`chatml_lab.gitops.nbdiff` (nbdime), which the rendering package may not import.
"""

from __future__ import annotations

from ..gitops import nbdiff
from ..render.blocks import Block
from ..render.review import notebook_diff_html


def notebook_write_view(block: Block) -> str | None:
    """The cells a ``Write`` of a ``.ipynb`` puts in the file; None for any other tool call."""
    if block.tool != "Write":
        return None
    path = str(block.input.get("file_path", ""))
    if not path.endswith(".ipynb"):
        return None
    content = str(block.input.get("content", ""))
    if nbdiff.parse(content) is None:
        return None
    # The old version is not in the event: the cells are shown as written (inserted).
    return notebook_diff_html(nbdiff.notebook_diff_text("", content, path))
