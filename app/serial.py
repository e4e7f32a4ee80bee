"""One request at a time inside each web process (gunicorn.conf.py wraps the app
with it in every worker).

gunicorn's sync workers also run one request at a time, but each blocks on the
first connection it accepts until that connection sends a request: a browser's
preconnected socket that sends nothing holds the worker until the worker timeout
kills it, and a page's next request waits behind it (seen with Chromium: a page
stalled 30 s). gthread workers wait for a request's first bytes in their threads and
then on a poller, so an idle socket holds nothing; this lock keeps the app itself
single-threaded, as Flask-AppBuilder needs (its views keep a list's filters and
order in view-instance state, which concurrent requests of one process would share).

The lock is held until the response has been sent (its `close()`, which the server
always calls): a streamed export runs the app's code while it is being read. A file
sent by the server's file wrapper (static files) releases it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator


class OneAtATime:
    """A WSGI middleware: `app` is entered by one thread at a time."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        self.lock.acquire()
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self.lock.release()
            raise
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(body, wrapper):
            self.lock.release()  # bytes of a file: no app code runs while it is sent
            return body
        return _Releasing(body, self.lock.release)


class _Releasing:
    """`body`, calling `release` once when closed."""

    def __init__(self, body: Iterable[bytes], release: Callable[[], None]) -> None:
        self.body = body
        self.release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            release, self.release = self.release, None
            if release is not None:
                release()
