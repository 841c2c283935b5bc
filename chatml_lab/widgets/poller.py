"""Background refresh for the widgets, and a worker for the slow actions their buttons start.

The database is the bus (DESIGN §3): widgets poll it at an interval from a daemon thread, so the
kernel stays free to run cells (ipywidgets 8 accepts trait updates from threads). Slow actions
(fetch, worktree creation, archive scripts) run on one worker thread per widget, in click order,
for the same reason. Both stop when the widget is closed; :func:`stop_all` stops every one. :class:`Polling` gives a
widget its poller's lifetime (``polling``, ``stop_polling``) in one place.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

_LIVE: weakref.WeakSet[Poller] = weakref.WeakSet()
_WORKERS: weakref.WeakSet[Worker] = weakref.WeakSet()


class Poller:
    """Call ``callback`` every ``interval`` seconds on a daemon thread until :meth:`stop`."""

    def __init__(self, interval: float, callback: Callable[[], None], name: str = "chatml-poller") -> None:
        self.interval = max(0.05, float(interval))
        self._callback = callback
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Poller:
        """Start polling (once)."""
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
            _LIVE.add(self)
        return self

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._callback()
            except Exception:  # a failed poll must not kill the loop; the widget shows errors
                continue

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait for the thread (unless called from it)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        _LIVE.discard(self)


class Polling:
    """Mixin of a widget refreshed in the background: start, query and stop its :class:`Poller`."""

    _poller: Poller | None = None

    def start_polling(self, interval: float, callback: Callable[[], None], name: str) -> None:
        """Call ``callback`` every ``interval`` seconds until :meth:`stop_polling`."""
        self.stop_polling()
        self._poller = Poller(interval, callback, name=name).start()

    @property
    def polling(self) -> bool:
        """True while the background poller runs."""
        return self._poller is not None and self._poller.alive

    def stop_polling(self) -> None:
        """Stop the background poller (the widget stays usable; call ``refresh()`` yourself)."""
        if self._poller is not None:
            self._poller.stop()
            self._poller = None


class Worker:
    """Run actions one at a time, in order, off the kernel's thread."""

    def __init__(self, name: str = "chatml-action") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()
        _WORKERS.add(self)

    def submit(self, action: Callable[[], None]) -> Future[None]:
        """Queue ``action``; exceptions stay in the returned future (actions report their own errors)."""
        future = self._executor.submit(action)
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()] + [future]
        return future

    def wait(self, timeout: float | None = None) -> None:
        """Block until every queued action has finished."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.exception(timeout)

    def stop(self) -> None:
        """Finish the running action, drop queued ones, end the thread."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        _WORKERS.discard(self)


def stop_all() -> int:
    """Stop every poller and worker of this process; return how many pollers were running."""
    pollers = list(_LIVE)
    for poller in pollers:
        poller.stop()
    for worker in list(_WORKERS):
        worker.stop()
    return len(pollers)


def close_tree(widget: object) -> None:
    """Close a widget and every widget below it (``Box.close`` leaves children's comms open)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    close = getattr(widget, "close", None)
    if callable(close):
        close()
