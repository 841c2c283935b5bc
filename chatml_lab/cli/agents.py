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
    """``chatml send NAME TEXT [--wait]``: a message to the agent (``--wait`` prints the turn)."""
    session = cm.session(args.name)
    last = session.last_seq()
    session.send(args.text)
    if not args.wait:
        print(f"sent to {session.name}; follow with `chatml log {session.name} --follow`")
        return 0
    state = session.wait(timeout=args.timeout)
    for event in session.events(after=last):
        line = event_line(event)
        if line:
            print(line)
    print(f"agent is {state}")
    return 0


def cmd_log(cm: ChatML, args: argparse.Namespace) -> int:
    """``chatml log NAME [--follow]``: the event log, streamed text as it arrives when following."""
    session = cm.session(args.name)
    last = args.after
    streaming = False
    while True:
        for event in session.events(after=last):
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
                print(line, flush=True)
        if not args.follow or (session.agent_state in ("idle", "stopped", "crashed") and not args.forever):
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
            parser.set_defaults(func=cmd_send)
        case "log":
            parser.add_argument(
                "--follow", "-f", action="store_true", help="keep printing while the agent works"
            )
            parser.add_argument("--forever", action="store_true", help="with --follow, do not stop when idle")
            parser.add_argument("--after", type=int, default=0, help="only events after this sequence number")
            parser.set_defaults(func=cmd_log)
        case "approve" | "deny":
            parser.add_argument("request", nargs="?")
            if command == "deny":
                parser.add_argument("--reason")
            parser.set_defaults(func=cmd_answer)
        case "stop" | "interrupt":
            parser.set_defaults(func=cmd_stop)
