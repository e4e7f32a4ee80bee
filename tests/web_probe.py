"""A tiny app for tests/jobs/test_web_worker.py, served by gunicorn with the panel's
gunicorn.conf.py: each request notes when it enters and leaves the app (pid, event)
in the file PROBE_LOG names, after sleeping `?seconds=`."""

from __future__ import annotations

import os
import time

from flask import Flask, request

app = Flask(__name__)


def _note(event: str) -> None:
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(f"{os.getpid()} {event} {request.args.get('name', '')}\n")


@app.get("/")
def probe():
    _note("in")
    time.sleep(float(request.args.get("seconds", 0)))
    _note("out")
    return str(os.getpid())


@app.get("/login/")
def up():  # what tests/servers.wait_until_up asks for
    return "up"
