"""A session report that opens anywhere: its data embedded in the notebook, secrets scrubbed.

:func:`collect` gathers everything a reader needs while the session is at hand (metadata, PR,
conversations and their events, commits, diffstat and diff with notebooks diffed by nbdime,
cost, findings, scorecards, archive summary), scrubs secrets (:mod:`.scrub`) and returns plain
JSON. :func:`build_report` embeds it in the notebook's first code cell as a compressed blob, so
re-running the notebook on another machine needs chatml_lab but not the author's data dir,
repository or session id. :class:`Report` turns the data back into tables and HTML.
"""

from __future__ import annotations

import base64
import html
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ChatMLError
from ..events import Event, EventType
from ..gitops.workdiff import commit_log, workspace_diff
from .offline import HIDE_INPUT_TAG
from .scrub import scrub_data

if TYPE_CHECKING:
    import pandas as pd

    from ..core.session import Session
    from .notebook import NotebookOutput

FORMAT_VERSION = 1
#: Streamed deltas and state changes are dropped: the final texts and results say it all.
_DROPPED = (EventType.ASSISTANT_DELTA.value, EventType.STATE.value)


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def _diff(session: Session, upstream: str | None, repo_path: Path) -> dict[str, Any]:
    rec = session.record
    live = not rec.archived and rec.worktree_path.is_dir()
    where = rec.worktree_path if live else repo_path
    tip = None if live else rec.branch
    try:
        stat = workspace_diff(where, upstream, rec.base_commit, stat=True, tip=tip)
        full = workspace_diff(where, upstream, rec.base_commit, tip=tip)
        commits = commit_log(where, stat.base, "HEAD" if live else rec.branch)
    except ChatMLError as exc:
        return {"error": str(exc), "stat": "", "text": "", "files": [], "commits": []}
    return {
        "base": stat.base, "upstream": stat.upstream, "stat": stat.text, "text": full.text,
        "files": full.files, "includes_uncommitted": live, "commits": commits,
    }  # fmt: skip


def collect(session: Session) -> dict[str, Any]:
    """Everything the report shows, as scrubbed JSON-able data."""
    from ..core import review

    manager = session._manager
    rec = session.record
    ws = manager.workspace(rec.workspace_id)
    upstream = f"{ws.remote}/{ws.default_branch}" if ws.remote else ws.default_branch
    conversations = []
    for conv in session.conversations():
        events = [
            {"seq": e.seq, "type": e.type.value, "data": e.data, "created_at": e.created_at}
            for e in session.events(conversation=conv)
            if e.type.value not in _DROPPED
        ]
        conversations.append({
            "kind": conv.kind.value, "title": conv.title, "agent_state": manager.agents.state(conv.id).value,
            "created_at": _iso(conv.created_at), "events": events,
        })  # fmt: skip
    diff = _diff(session, upstream, ws.path)
    findings = [
        {**row, "created_at": row["created_at"].isoformat()}
        for row in review.finding_rows(manager, session.id)
    ]
    data = {
        "format": FORMAT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "session": {
            "name": rec.name, "branch": rec.branch, "base_ref": rec.base_ref, "base_commit": rec.base_commit,
            "workspace": ws.name, "upstream": upstream, "priority": rec.priority.value,
            "task_status": rec.task_status.value, "pinned": rec.pinned, "archived": rec.archived,
            "agent": rec.agent_backend, "model": rec.model, "permission_mode": rec.permission_mode.value,
            "created_at": _iso(rec.created_at), "updated_at": _iso(rec.updated_at), "health": rec.health,
            "snapshot_ref": rec.snapshot_ref,
        },
        "pr": {"status": rec.pr_status.value, "number": rec.pr_number, "url": rec.pr_url},
        "cost": {"cost_usd": rec.cost_usd, "input_tokens": rec.input_tokens, "output_tokens": rec.output_tokens},
        "archive_summary": {"state": rec.archive_summary_state.value, "text": rec.archive_summary},
        "conversations": conversations,
        "diff": diff,
        "findings": findings,
        "scorecards": [
            {"review_kind": c.review_kind, "scores": c.scores, "summary": c.summary, "created_at": _iso(c.created_at)}
            for c in session.scorecards()
        ],
    }  # fmt: skip
    scrubbed: dict[str, Any] = scrub_data(data)
    return scrubbed


def _when(iso: str | None) -> str:
    """``2026-05-11 14:02 UTC`` from an ISO timestamp."""
    return "" if not iso else datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def encode(data: dict[str, Any]) -> str:
    """Report data as compact ASCII (zlib + base64) for a notebook cell."""
    raw = json.dumps(data, separators=(",", ":"), default=str).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode()


def decode(blob: str) -> dict[str, Any]:
    """The inverse of :func:`encode`."""
    data: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(blob)))
    return data


def load_report(blob: str) -> Report:
    """The :class:`Report` of an embedded blob (what the report notebook's first cell calls)."""
    return Report(decode(blob))


class Report:
    """Tables and HTML from report data; needs no store, no repository, no network."""

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT_VERSION:
            raise ChatMLError(
                f"report data format {data.get('format')!r} is not {FORMAT_VERSION}: upgrade chatml_lab"
            )
        self.data = data
        self.session: dict[str, Any] = data["session"]

    # -- summary ----------------------------------------------------------------------------------

    def summary_html(self) -> str:
        """Metadata, PR and cost as a two-column table."""
        s, pr, cost = self.session, self.data["pr"], self.data["cost"]
        pr_text = "none" if pr["status"] == "none" else f"{pr['status']} #{pr['number']} {pr['url'] or ''}"
        usd = "unknown" if cost["cost_usd"] is None else f"${cost['cost_usd']:.4f}"
        rows = [
            ("branch", s["branch"]), ("base", f"{s['base_ref']} ({s['base_commit'][:10]})"),
            ("workspace", s["workspace"]), ("compared with", s["upstream"]), ("priority", s["priority"]),
            ("task status", s["task_status"].replace("_", " ")), ("pinned", "yes" if s["pinned"] else "no"),
            ("archived", "yes" if s["archived"] else "no"), ("agent", s["agent"] or "default"),
            ("model", s["model"] or "default"), ("pull request", pr_text),
            ("cost", f"{usd} ({cost['input_tokens']} in / {cost['output_tokens']} out tokens)"),
            ("created", _when(s["created_at"])), ("updated", _when(s["updated_at"])),
            ("report generated", _when(self.data["generated_at"])),
        ]  # fmt: skip
        cells = "".join(
            f'<tr><th style="text-align:left;padding:2px 12px 2px 0;color:#546e7a">{html.escape(k)}</th>'
            f'<td style="text-align:left">{html.escape(str(v))}</td></tr>'
            for k, v in rows
        )
        return f'<table style="font-family:sans-serif;font-size:13px">{cells}</table>'

    @property
    def scripted(self) -> bool:
        """True when the session's agent was the scripted one."""
        return self.session.get("agent") == "scripted"

    # -- conversations ----------------------------------------------------------------------------

    def events(self, conversation: dict[str, Any]) -> list[Event]:
        """A conversation's embedded events as :class:`Event` objects."""
        return [
            Event(seq=e["seq"], conversation_id=conversation["title"], type=EventType(e["type"]),
                  data=e["data"], created_at=e["created_at"])
            for e in conversation["events"]
        ]  # fmt: skip

    def conversations_html(self) -> str:
        """Every conversation, titled, rendered like the chat (findings inline)."""
        from ..render.html import render_events
        from ..widgets.notebook_view import notebook_write_view

        parts = []
        for conv in self.data["conversations"]:
            parts.append(
                f'<h3 style="font-family:sans-serif;margin:14px 0 4px">{html.escape(conv["title"])}'
                f' <span style="font-size:12px;color:#757575;font-weight:normal">{conv["kind"]},'
                f" {html.escape(conv['agent_state'])}</span></h3>{render_events(self.events(conv), notebook_write_view)}"
            )
        return "".join(parts)

    def timeline(self) -> pd.DataFrame:
        """What happened when: messages, turns, errors, findings and commits, oldest first."""
        import pandas as pd

        from ..render.tool_calls import tool_summary

        rows: list[tuple[float | str, str, str]] = []
        for conv in self.data["conversations"]:
            for e in conv["events"]:
                data, kind = e["data"], e["type"]
                if kind == "user_message":
                    what = "message: " + " ".join(str(data["text"]).split())[:100]
                elif kind == "result":
                    usd = "cost unknown" if data["cost_usd"] is None else f"${data['cost_usd']:.4f}"
                    what = f"turn done ({data['duration_ms'] / 1000:.1f} s, {usd})"
                elif kind == "error":
                    what = f"error: {data['message']}"
                elif kind == "tool_start" and data["tool"] in (
                    "add_review_comment",
                    "resolve_review_comment",
                ):
                    what = tool_summary(data["tool"], data["input"])
                elif kind in ("archive_summary", "name_suggestion"):
                    what = kind.replace("_", " ")
                else:
                    continue
                rows.append((e["created_at"], conv["title"], what))
        for commit in self.data["diff"].get("commits", []):
            rows.append((commit["date"], "git", f"commit {commit['short']} {commit['subject']}"))
        frame = pd.DataFrame(rows, columns=["time", "where", "what"])
        frame["time"] = [
            pd.Timestamp(t, unit="s", tz="UTC")
            if isinstance(t, float | int)
            else pd.Timestamp(t).tz_convert("UTC")
            for t in frame["time"]
        ]
        return frame.sort_values("time", kind="stable").reset_index(drop=True)

    def cost(self) -> pd.DataFrame:
        """Turns, tokens and cost per conversation."""
        import pandas as pd

        from ..render.blocks import totals

        rows = [{"conversation": c["title"], **totals(self.events(c))} for c in self.data["conversations"]]
        return pd.DataFrame(
            rows, columns=["conversation", "turns", "input_tokens", "output_tokens", "cost_usd"]
        )

    # -- review -----------------------------------------------------------------------------------

    def findings(self) -> pd.DataFrame:
        """The findings as ``session.findings()`` returns them."""
        from .findings import findings_frame

        return findings_frame(self.data["findings"])

    def scorecards_html(self) -> str:
        """The reviews' scorecards."""
        from .findings import scorecards_html

        return scorecards_html(self.data["scorecards"])

    # -- git --------------------------------------------------------------------------------------

    def commits(self) -> pd.DataFrame:
        """Commits on the branch since the merge-base, newest first."""
        import pandas as pd

        commits = self.data["diff"].get("commits", [])
        return pd.DataFrame(commits, columns=["short", "subject", "author", "date"])

    def diffstat(self) -> str:
        """``git diff --stat`` (notebooks with their cell counts)."""
        diff = self.data["diff"]
        if diff.get("error"):
            return f"diff unavailable: {diff['error']}"
        note = " (uncommitted work included)" if diff.get("includes_uncommitted") else ""
        head = f"against the merge-base {str(diff.get('base', ''))[:10]} with {diff.get('upstream') or 'the base'}{note}"
        return f"{head}\n{diff['stat'] or 'no changes'}"

    def diff_html(self) -> str:
        """The diff, text files as unified diffs and notebooks as nbdime's cell-level diffs."""
        from ..render.html import diff_html
        from ..render.review import notebook_diff_html

        text = self.data["diff"].get("text") or ""
        if not text.strip():
            return '<div style="color:#9e9e9e;font-family:sans-serif">no changes</div>'
        marker = "diff --nbdime "
        first, *notebooks = (
            text.split("\n" + marker) if not text.startswith(marker) else ["", text[len(marker) :]]
        )
        parts = [diff_html(first)] if first.strip() else []
        parts += [notebook_diff_html(marker + section) for section in notebooks]
        return "".join(parts)

    def archive_summary(self) -> str:
        """The archive summary (markdown), or a line saying there is none."""
        summary = self.data["archive_summary"]
        return summary["text"] or f"No archive summary (state: {summary['state']})."


# -- the notebook -------------------------------------------------------------------------------------


def build_report(session: Session) -> Any:
    """The report notebook of ``session`` (not executed), its data embedded."""
    import nbformat.v4

    nbf: Any = nbformat.v4
    data = collect(session)
    name = data["session"]["name"]
    intro = f"# Session report: {name}\n\nBranch `{data['session']['branch']}` of workspace {data['session']['workspace']}."
    if data["session"]["agent"] == "scripted":
        intro += "\n\nThe agent of this session was **scripted**: its output was replayed from a script, not written by a model."
    intro += (
        "\n\nThis notebook carries its own data (the first code cell, compressed, secrets scrubbed): it "
        "re-runs anywhere chatml_lab is installed, without the author's data directory or repository."
    )
    loader = nbf.new_code_cell(
        "from IPython.display import HTML, Markdown\n"
        "from chatml_lab.reports.findings import plain_table, style_findings\n"
        "from chatml_lab.reports.report import load_report\n"
        "\n"
        f'report = load_report("{encode(data)}")'
    )
    loader.metadata["tags"] = [HIDE_INPUT_TAG]
    loader.metadata["jupyter"] = {"source_hidden": True}
    cells = [
        nbf.new_markdown_cell(intro),
        loader,
        nbf.new_markdown_cell("## Summary"),
        nbf.new_code_cell("HTML(report.summary_html())"),
        nbf.new_markdown_cell("## Timeline"),
        nbf.new_code_cell("plain_table(report.timeline())"),
        nbf.new_markdown_cell("## Conversations"),
        nbf.new_code_cell("HTML(report.conversations_html())"),
        nbf.new_markdown_cell("## Review findings"),
        nbf.new_code_cell("style_findings(report.findings())"),
        nbf.new_code_cell("HTML(report.scorecards_html())"),
        nbf.new_markdown_cell("## Commits on the branch"),
        nbf.new_code_cell("plain_table(report.commits())"),
        nbf.new_markdown_cell("## Diff against the merge-base"),
        nbf.new_code_cell("print(report.diffstat())\nHTML(report.diff_html())"),
        nbf.new_markdown_cell("## Cost"),
        nbf.new_code_cell("plain_table(report.cost())"),
        nbf.new_markdown_cell("## Archive summary"),
        nbf.new_code_cell("Markdown(report.archive_summary())"),
    ]
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.metadata["title"] = f"Session report: {name}"
    return notebook


def write_report(
    session: Session, out_dir: Path | str | None = None, timeout: float = 120.0
) -> NotebookOutput:
    """Build, execute and export the report of ``session`` into ``out_dir`` (default: ``<data>/reports``).

    Writes ``<name>-report.ipynb`` (executed) and ``<name>-report.html`` (renders offline, with
    ``_chatml_static/`` beside it).
    """
    import nbformat as _nbformat

    from .notebook import execute

    nbformat: Any = _nbformat
    target = Path(out_dir).expanduser() if out_dir else session._manager.data_dir / "reports"
    target.mkdir(parents=True, exist_ok=True)
    source = target / f"{session.name}-report.ipynb"
    nbformat.write(build_report(session), source)
    # The kernel starts in the report's directory: nothing in it reads the author's data.
    return execute(source, target, timeout=timeout, cwd=target)
