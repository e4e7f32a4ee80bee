"""app/serial.py: the app runs one request at a time in a web process, whatever
gunicorn's threads, until each response has been sent."""

from __future__ import annotations

import threading
import time

import pytest

from app.serial import OneAtATime


class Recorder:
    """A WSGI app streaming two chunks, noting how many requests are inside it."""

    def __init__(self):
        self.inside = 0
        self.most = 0
        self.guard = threading.Lock()

    def enter(self):
        with self.guard:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def leave(self):
        with self.guard:
            self.inside -= 1

    def __call__(self, environ, start_response):
        self.enter()
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ.get("fail"):
            self.leave()
            raise RuntimeError("the view failed")

        def body():
            yield b"a"
            time.sleep(0.02)  # the second chunk is computed while the response is read
            yield b"b"
            self.leave()

        return body()


def serve(app, environ=None):
    body = app(environ or {}, lambda status, headers: None)
    try:
        return b"".join(body)
    finally:
        body.close()


def test_requests_on_eight_threads_are_inside_the_app_one_at_a_time_until_sent():
    recorder = Recorder()
    app = OneAtATime(recorder)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(serve(app))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [b"ab"] * 8
    assert recorder.most == 1


def test_a_failed_request_or_an_abandoned_response_frees_the_app_for_the_next():
    recorder = Recorder()
    app = OneAtATime(recorder)
    with pytest.raises(RuntimeError, match="the view failed"):
        serve(app, {"fail": True})
    body = app({}, lambda status, headers: None)
    next(iter(body))  # the client went away after the first chunk
    body.close()
    body.close()  # closed twice (a server's cleanup): released once
    assert app.lock.acquire(blocking=False)
    app.lock.release()


def test_a_file_sent_by_the_servers_file_wrapper_does_not_hold_the_app():
    class FileWrapper:
        def __init__(self, data):
            self.data = data

        def __iter__(self):
            return iter([self.data])

    app = OneAtATime(lambda environ, start_response: FileWrapper(b"static"))
    body = app({"wsgi.file_wrapper": FileWrapper}, lambda status, headers: None)
    assert isinstance(body, FileWrapper)
    assert app.lock.acquire(blocking=False)
    app.lock.release()
