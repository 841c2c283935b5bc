"""What the runner host imports and warms before it forks (:mod:`.runner_host`): the point of the host.

Forked runners inherit these modules already imported and the SDK's lazy parts already built.
"""

from __future__ import annotations


def preload() -> None:
    """Import what a runner needs before its first answer: the point of the host."""
    import anthropic  # noqa: F401

    from ..agents import anthropic_backend, context, tools  # noqa: F401
    from ..agents.backend import backend_class
    from . import runner_main  # noqa: F401

    for name in ("anthropic", "scripted"):
        backend_class(name)  # entry points scanned once, here
    import setproctitle

    setproctitle.getproctitle()  # finds the argv area now, while the environment is the host's


def warm_up_sdk() -> None:
    """Stream one short answer from an in-process scripted server, then stop it.

    The SDK imports its HTTP stack, resources and stream types on first use and pydantic builds
    some validators lazily: paid here once, they are already done in every forked runner. The
    server's threads are joined before the host forks anything (a fork must not copy a thread).
    """
    import threading

    import anthropic

    from ..agents.scripted_server import ScriptedServer

    with ScriptedServer({"turns": [[{"type": "text", "text": "warm"}]]}) as server:
        client = anthropic.Anthropic(api_key="warm-up", base_url=server.url, max_retries=0)
        try:
            with client.messages.stream(
                model="scripted", max_tokens=16, messages=[{"role": "user", "content": "warm up"}]
            ) as stream:
                for _event in stream:
                    pass
        finally:
            client.close()
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(timeout=5)
    if threading.active_count() > 1:
        raise RuntimeError("the SDK warm-up left a thread running: the host cannot fork safely")
