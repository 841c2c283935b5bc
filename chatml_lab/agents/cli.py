"""``chatml send|log|approve|deny|stop|interrupt``: the agent commands of the command line."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..events import Event, EventType


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_line(event: Event) -> str | None:
    """One line of text for an event; None for streamed deltas (their final text is printed)."""
    data = event.data
    label = "[scripted] " if data.get("scripted") else ""
    match event.type:
        case EventType.USER_MESSAGE:
            return f"you: {data['text']}"
        case EventType.ASSISTANT_TEXT:
            return f"agent: {label}{data['text']}"
        case EventType.ASSISTANT_DELTA:
            return None
        case EventType.THINKING:
            return f"thinking: {_short(data['text'])}"
        case EventType.TOOL_START:
            return f"→ {data['tool']} {_short(data['input'])}"
        case EventType.TOOL_END:
            return f"{'✓' if data['ok'] else '✗'} {_short(data['output'])}"
        case EventType.APPROVAL_REQUEST:
            return f"? approval {data['id']}: {data['tool']} {_short(data['input'])} (chatml approve|deny)"
        case EventType.APPROVAL_RESPONSE:
            return f"{'approved' if data['approved'] else 'denied'} {data['id']}"
        case EventType.RESULT:
            cost = "unknown" if data["cost_usd"] is None else f"${data['cost_usd']:.4f}"
            usage = data["usage"]
            return (
                f"turn done: {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out tokens,"
                f" {cost}, {data['duration_ms']} ms"
            )
        case EventType.ERROR:
            return f"error: {data['message']}"
        case EventType.STATE:
            return f"[{data['agent_state']}]"
        case EventType.SETUP_OUTPUT:
            return f"setup {data['script']} exited {data['exit_code']}: {_short(data['output'])}"
        case EventType.NAME_SUGGESTION:
            return f"named {data['name']} ({data.get('source', '')})"
        case EventType.ARCHIVE_SUMMARY:
            return f"archive summary ({data['source']}):\n{data['summary']}"
        case EventType.NOTICE:
            return f"note: {data['message']}"
    return None


def cmd_send(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    conversation = getattr(args, "conversation", None)
    last = max((e.seq for e in session.events()), default=0)
    session.send(args.text, conversation=conversation)
    if not args.wait:
        where = f" --conversation {conversation!r}" if conversation else ""
        print(f"sent to {session.name}; follow with `chatml log {session.name}{where} --follow`")
        return 0
    state = session.wait(timeout=args.timeout)
    for event in session.events(after=last, conversation=conversation):
        line = event_line(event)
        if line:
            print(line)
    print(f"agent is {state}")
    return 0


def cmd_log(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    conversation = getattr(args, "conversation", None)
    watched = session.conversation(conversation) if conversation else None
    last = args.after
    streaming = False
    while True:
        # Several conversations in one log: lines of all but the task one say where they belong.
        convs = session.conversations()
        labels = {c.id: f"[{c.title}] " for c in convs if c.kind.value != "task"} if watched is None else {}
        for event in session.events(after=last, conversation=watched):
            last = event.seq
            if args.follow and event.type is EventType.ASSISTANT_DELTA:
                print(event.data["text"], end="", flush=True)
                streaming = True
                continue
            if streaming and event.type is EventType.ASSISTANT_TEXT:
                print(flush=True)
                streaming = False
                continue
            line = event_line(event)
            if line:
                print(labels.get(event.conversation_id, "") + line, flush=True)
        state = cm.agents.state(watched.id).value if watched is not None else session.agent_state
        if not args.follow or (state in ("idle", "stopped", "crashed") and not args.forever):
            return 0
        time.sleep(0.1)


def cmd_answer(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    if args.command == "approve":
        request = session.approve(args.request)
    else:
        request = session.deny(args.request, reason=args.reason)
    print(f"{'approved' if args.command == 'approve' else 'denied'} {request}")
    return 0


def cmd_stop(cm: Any, args: argparse.Namespace) -> int:
    session = cm.session(args.name)
    if args.command == "stop":
        session.stop()
    else:
        session.interrupt()
    print(f"asked {session.name}'s agent to {args.command}")
    return 0


def add_agent_commands(sub: Any) -> None:
    """Add the agent subcommands to the ``chatml`` parser."""
    send = sub.add_parser("send", help="send a message to a session's agent")
    send.add_argument("name")
    send.add_argument("text")
    send.add_argument("--wait", action="store_true", help="wait for the turn and print it")
    send.add_argument("--timeout", type=float, default=None)
    send.add_argument("--conversation", "-c", help="id, title or kind (default: the task conversation)")
    send.set_defaults(func=cmd_send)

    log = sub.add_parser("log", help="print a session's event log")
    log.add_argument("name")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing while the agent works")
    log.add_argument("--forever", action="store_true", help="with --follow, do not stop when idle")
    log.add_argument("--after", type=int, default=0, help="only events after this sequence number")
    log.add_argument("--conversation", "-c", help="only this conversation (id, title or kind)")
    log.set_defaults(func=cmd_log)

    for verb in ("approve", "deny"):
        p = sub.add_parser(verb, help=f"{verb} a pending tool request")
        p.add_argument("name")
        p.add_argument("request", nargs="?")
        if verb == "deny":
            p.add_argument("--reason")
        p.set_defaults(func=cmd_answer)

    for verb, text in (("stop", "stop the agent"), ("interrupt", "interrupt the current turn")):
        p = sub.add_parser(verb, help=text)
        p.add_argument("name")
        p.set_defaults(func=cmd_stop)
