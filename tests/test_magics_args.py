"""``parse``/``parse_cell`` are pure: the whole ``%chatml`` grammar as a table."""

from __future__ import annotations

import pytest

from chatml_lab.errors import InvalidArgumentError
from chatml_lab.ipython import args as a
from chatml_lab.models import PermissionMode, Priority, TaskStatus

VALID: list[tuple[str, a.Command]] = [
    ("", a.Help()),
    ("help", a.Help()),
    ("help new", a.Help("new")),
    ("--help", a.Help()),
    ("new", a.New()),
    ("new fix-login", a.New(name="fix-login")),
    (
        "new x --repo ~/src/app --prompt 'Fix the bug' --agent scripted --priority HIGH",
        a.New(name="x", repo="~/src/app", prompt="Fix the bug", agent="scripted", priority=Priority.HIGH),
    ),
    ("new --from-pr 12", a.New(from_pr=12)),
    ("new y --base origin/dev --model m1", a.New(name="y", base="origin/dev", model="m1")),
    ("new --permission-mode accept-edits", a.New(permission_mode=PermissionMode.ACCEPT_EDITS)),
    ("list", a.List()),
    ("list --all", a.List(all=True)),
    ("dashboard", a.Dashboard()),
    ("chat auth", a.Chat("auth")),
    ("send auth fix the tests please", a.Send("auth", "fix the tests please")),
    ('send auth "quoted   text"', a.Send("auth", "quoted   text")),
    ("set auth --priority urgent", a.Set("auth", priority=Priority.URGENT)),
    ("set auth --status in-review --pin", a.Set("auth", status=TaskStatus.IN_REVIEW, pinned=True)),
    ("set auth --unpin", a.Set("auth", pinned=False)),
    ("set auth --rename login", a.Set("auth", rename="login")),
    ("sync", a.Sync()),
    ("sync --all", a.Sync()),
    ("sync auth", a.Sync("auth")),
    ("archive auth", a.Archive("auth")),
    ("archive auth --force", a.Archive("auth", force=True)),
    ("unarchive auth", a.Unarchive("auth")),
    ("delete auth --force", a.Delete("auth", force=True)),
    ("approve auth", a.Approve("auth")),
    ("deny auth --id req-1", a.Deny("auth", "req-1")),
    ("stop auth", a.Stop("auth")),
    ("interrupt auth", a.Interrupt("auth")),
    ("settings", a.Settings()),
    ("settings --branch-prefix none", a.Settings(branch_prefix="none")),
    ("doctor", a.Doctor()),
    ("report auth --out /tmp/r", a.Report("auth", "/tmp/r")),
]


@pytest.mark.parametrize(("line", "expected"), VALID, ids=[line or "<empty>" for line, _ in VALID])
def test_parse_valid(line: str, expected: a.Command) -> None:
    assert a.parse(line) == expected


INVALID: list[tuple[str, str]] = [
    ("bogus", "unknown subcommand 'bogus'"),
    ("new --priority weird", "unknown priority 'weird'"),
    ("new --from-pr abc", "invalid int value"),
    ("new --from-pr 0", "must be a positive number"),
    ("new --from-pr 3 --base main", "either --from-pr or --base"),
    ("new a b", "unrecognized arguments: b"),
    ("new --permission-mode yolo", "unknown permission mode"),
    ("list --json", "unrecognized arguments: --json"),
    ("chat", "required: NAME"),
    ("send auth", "required: TEXT"),
    ("set auth", "nothing to set"),
    ("set auth --pin --unpin", "not allowed with argument --pin"),
    ("set auth --status finished", "unknown task status 'finished'"),
    ("sync auth --all", "NAME or --all, not both"),
    ("archive", "required: NAME"),
    ("delete auth --really", "unrecognized arguments"),
    ("help bogus", "unknown subcommand 'bogus'"),
    ("help new list", "at most one subcommand"),
    ("send auth 'unclosed", "cannot split the arguments"),
    ("new --rep x", "unrecognized arguments"),  # no abbreviations: a typo must not silently match
    ("dashboard now", "unrecognized arguments: now"),
]


@pytest.mark.parametrize(("line", "message"), INVALID, ids=[line for line, _ in INVALID])
def test_parse_invalid(line: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        a.parse(line)
    text = str(info.value)
    assert message in text
    assert "\n" not in text, "errors are one line"
    assert "usage: %chatml" in text or "use one of" in text or "quote text" in text


def test_parse_cell() -> None:
    assert a.parse_cell("", "  Fix it\n") == a.CellChat(name=None, text="Fix it")
    cell = a.parse_cell("auth --agent scripted --priority low --repo /r", "line one\nline two")
    assert cell == a.CellChat(
        "auth", "line one\nline two", repo="/r", agent="scripted", priority=Priority.LOW
    )


@pytest.mark.parametrize(
    ("line", "body", "message"), [("auth", "  \n", "the cell is empty"), ("a b", "x", "unrecognized")]
)
def test_parse_cell_invalid(line: str, body: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        a.parse_cell(line, body)


def test_usage_lists_every_subcommand() -> None:
    text = a.usage()
    for name in a.SUBCOMMANDS:
        assert f"%chatml {name}" in text
    assert "%%chatml" in text
    assert a.usage("set").startswith("%chatml set")


def test_commands_are_frozen() -> None:
    command = a.parse("set auth --pin")
    with pytest.raises(AttributeError):
        command.name = "other"  # type: ignore[misc,union-attr]
