"""``chatml send|log|approve|deny|stop|interrupt``: the agent commands of the command line."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from ..events import EventType
from ..render.text import event_line

if TYPE_CHECKING:
    from ..core.manager import ChatML


def cmd_send(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml send NAME TEXT [--conversation C] [--wait]``: a message to an agent (``--wait`` prints the turn)."""
    session = cm.session(args.name)
    conversation = args.conversation
    last = session.last_seq()
    session.send(args.text, conversation=conversation)
    if not args.wait:
        where = f" --conversation {conversation!r}" if conversation else ""
        print(f"sent to {session.name}; follow with `chatml log {session.name}{where} --follow`")
        return 0
    if conversation:
        state = session.wait_conversation(conversation, timeout=args.timeout)
    else:
        state = session.wait(timeout=args.timeout)
    for event in session.events(after=last, conversation=conversation):
        line = event_line(event)
        if line:
            print(line)
    print(f"agent is {state}")
    return 0


def cmd_log(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml log NAME [--conversation C] [--follow]``: the event log, streamed text as it arrives.

    Without ``--conversation`` every conversation is shown, lines of all but the task one prefixed
    with their conversation's title.
    """
    session = cm.session(args.name)
    watched = session.conversation(args.conversation) if args.conversation else None
    last = args.after
    streaming = False
    while True:
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


def cmd_answer(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml approve|deny NAME [REQUEST]``: answer a pending tool request."""
    session = cm.session(args.name)
    if args.command == "approve":
        request = session.approve(args.request)
    else:
        request = session.deny(args.request, reason=args.reason)
    print(f"{'approved' if args.command == 'approve' else 'denied'} {request}")
    return 0


def cmd_stop(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml stop|interrupt NAME``: stop the agent, or only its current turn."""
    session = cm.session(args.name)
    if args.command == "stop":
        session.stop()
    else:
        session.interrupt()
    print(f"asked {session.name}'s agent to {args.command}")
    return 0


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of one agent command, and its handler."""
    parser.add_argument("name")
    match command:
        case "send":
            parser.add_argument("text")
            parser.add_argument("--wait", action="store_true", help="wait for the turn and print it")
            parser.add_argument("--timeout", type=float, default=None)
            parser.add_argument(
                "--conversation", "-c", help="id, title or kind (default: the task conversation)"
            )
            parser.set_defaults(func=cmd_send)
        case "log":
            parser.add_argument(
                "--follow", "-f", action="store_true", help="keep printing while the agent works"
            )
            parser.add_argument("--forever", action="store_true", help="with --follow, do not stop when idle")
            parser.add_argument("--after", type=int, default=0, help="only events after this sequence number")
            parser.add_argument("--conversation", "-c", help="only this conversation (id, title or kind)")
            parser.set_defaults(func=cmd_log)
        case "approve" | "deny":
            parser.add_argument("request", nargs="?")
            if command == "deny":
                parser.add_argument("--reason")
            parser.set_defaults(func=cmd_answer)
        case "stop" | "interrupt":
            parser.set_defaults(func=cmd_stop)
