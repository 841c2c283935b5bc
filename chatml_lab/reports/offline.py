"""HTML exports that render with no network: widgets, styles and scripts all from local files.

nbconvert's ``lab`` template loads require.js, the widget renderer
(``@jupyter-widgets/html-manager``) and MathJax from public CDNs, so an exported notebook opened
offline shows blank widgets. :func:`export_html` uses the ``chatml_offline`` template (the lab
template without MathJax) and copies the vendored renderer and loader shipped in the wheel
(``reports/static``, see its README for versions and licenses) into ``_chatml_static/`` next to
the HTML, referenced by relative URLs: the page and that folder open anywhere, from disk.
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any

STATIC_DIR_NAME = "_chatml_static"
TEMPLATE = "chatml_offline"
ASSETS = ("require.js", "embed-amd.js", "LICENSE-html-manager.txt", "LICENSE-requirejs.txt",
          "embed-amd.THIRD-PARTY-NOTICES.txt")  # fmt: skip
#: Cell tag whose input is left out of the HTML (the report's embedded data).
HIDE_INPUT_TAG = "chatml-hide-input"


def static_dir() -> Path:
    """Where the vendored assets are installed."""
    return Path(str(files("chatml_lab.reports") / "static"))


def templates_dir() -> Path:
    """The package's nbconvert templates (``chatml_offline``)."""
    return Path(str(files("chatml_lab.reports") / "templates"))


def copy_assets(out_dir: Path) -> Path:
    """Copy the renderer, the loader and their licenses into ``out_dir/_chatml_static``."""
    target = Path(out_dir) / STATIC_DIR_NAME
    target.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        source = static_dir() / name
        dest = target / name
        if not dest.exists() or dest.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, dest)
    return target


def offline_html_options() -> dict[str, Any]:
    """``HTMLExporter`` options for a page whose assets sit in ``_chatml_static/`` beside it."""
    return {
        "template_name": TEMPLATE,
        "extra_template_basedirs": [str(templates_dir())],
        "require_js_url": f"{STATIC_DIR_NAME}/require.js",
        "widget_renderer_url": f"{STATIC_DIR_NAME}/embed-amd.js",
    }


def export_html(node: Any, page: Path, html_options: dict[str, Any] | None = None) -> Path:
    """Write ``node`` as HTML to ``page``; offline (local assets) unless ``html_options`` say otherwise.

    Cells tagged :data:`HIDE_INPUT_TAG` show their output only.
    """
    import copy

    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    options = {**offline_html_options(), **(html_options or {})}
    exporter = HTMLExporter(**options)  # type: ignore[no-untyped-call]
    shown = copy.deepcopy(node)
    hide = TagRemovePreprocessor(remove_input_tags={HIDE_INPUT_TAG}, enabled=True)  # type: ignore[no-untyped-call]
    shown, _ = hide.preprocess(shown, {})  # type: ignore[no-untyped-call]
    body, _ = exporter.from_notebook_node(shown)
    page = Path(page)
    page.parent.mkdir(parents=True, exist_ok=True)
    if str(options.get("widget_renderer_url", "")).startswith(STATIC_DIR_NAME):
        copy_assets(page.parent)
    page.write_text(body, encoding="utf-8")
    return page
