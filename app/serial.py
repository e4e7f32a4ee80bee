"""gunicorn's worker for the panel (`gunicorn.conf.py`): threads wait for
connections, the app runs one request per process at a time.

gunicorn's sync workers run one request at a time, but each blocks on the first
connection it accepts until that connection sends a request: a browser's
preconnected socket that sends nothing holds the process until its timeout kills
it, and the page's next request waits behind it (Chromium: a page stalled 30 s in
the browser tests; `make run`'s timeout is 120 s). gunicorn's threaded worker waits
for a request's first bytes in a thread and then on a poller, so an idle socket
holds nothing. On top of it, this worker:

- runs the app for one request at a time (a lock around reading the request,
  the app and sending its response): Flask-AppBuilder keeps a list's filters and
  order in view-instance state, which concurrent requests of one process would
  share;
- stops accepting connections while a request is in hand (in the app or waiting
  for it), so the next request goes to a process that is free, as with sync
  workers — not into the queue of a busy one while another process idles.
- is restarted by gunicorn's master when one request has run for longer than
  `timeout`, as sync workers are (a threaded worker tells the master it is alive
  from its main loop, whatever its requests do).

Kept-alive connections stay with the process that accepted them, so
`gunicorn.conf.py` closes each connection after its response (`keepalive = 0`),
as sync workers do.

Built on gunicorn's `ThreadWorker` (pinned in requirements.txt):
`tests/jobs/test_web_worker.py` checks the behaviours above through real
gunicorn processes.
"""

from __future__ import annotations

import threading
import time

from gunicorn.workers import gthread


class OneAtATimeWorker(gthread.ThreadWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app_lock = threading.Lock()
        self.in_hand = 0  # connections with a request: in the app or waiting for it
        self.counting = threading.Lock()
        self.in_app_since: float | None = None

    def handle(self, conn):  # in a thread of the pool
        waiting = not conn.initialized and not conn.data_ready
        if waiting and not conn.wait_for_data(gthread.DEFAULT_WORKER_DATA_TIMEOUT):
            return gthread._DEFER  # to the poller: it holds no thread meanwhile
        self._count(+1)
        try:
            with self.app_lock:
                self.in_app_since = time.monotonic()
                try:
                    return super().handle(conn)
                finally:
                    self.in_app_since = None
        finally:
            self._count(-1)

    def notify(self) -> None:
        # The master restarts a process that has not told it it is alive for
        # `timeout` seconds: silent while a request is in the app, a request running
        # longer than that ends with its process, as with sync workers.
        if self.in_app_since is None:
            super().notify()

    def _count(self, change: int) -> None:
        with self.counting:
            self.in_hand += change
        self.method_queue.defer(lambda: None)  # the main loop looks again

    def has_room(self) -> bool:
        return self.nr_conns < self.worker_connections

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and not self.in_hand)

    def accept(self, listener) -> None:
        # The poller may report the listener readable after a request came in hand
        # but before the main loop stopped accepting (a loaded machine): leave the
        # connection in the backlog, to a free process.
        if not self.in_hand:
            super().accept(listener)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # The main loop, before it waits: a process with a request in hand leaves
        # new connections to the others; a free one takes them again.
        if self.in_hand and self._accepting:
            super().set_accept_enabled(False)
        elif not (self.in_hand or self._accepting) and self.alive and self.has_room():
            super().set_accept_enabled(True)
        super().wait_for_and_dispatch_events(timeout)
