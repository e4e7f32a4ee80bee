"""gunicorn's settings for the panel, in `make run` and in production alike:

    gunicorn -c gunicorn.conf.py run:app

Threaded workers running the app one request per process at a time
(app/serial.py): the threads only wait for requests' first bytes, so a browser's
preconnected socket that sends nothing holds no process (a sync worker blocks on it
until its timeout), while Flask-AppBuilder's view-instance state (a list's filters)
is never shared by two requests. HOST/PORT (or GUNICORN_BIND), WEB_CONCURRENCY,
WEB_THREADS and WEB_TIMEOUT override the defaults.
"""

import multiprocessing
import os

host = os.environ.get("HOST", "127.0.0.1")
bind = os.environ.get("GUNICORN_BIND") or (
    f"[{host}]:{os.environ.get('PORT', '5000')}"
    if ":" in host
    else f"{host}:{os.environ.get('PORT', '5000')}"
)
workers = int(os.environ.get("WEB_CONCURRENCY") or min(4, multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 4)  # waiting connections, one in the app
# Build the app once in the master, then fork: workers start at once and share memory.
preload_app = True
# A worker whose main loop stops answering the master for this long is restarted
# (a request in the app does not stop it: threaded workers keep answering).
timeout = int(os.environ.get("WEB_TIMEOUT") or 120)
graceful_timeout = 5  # SIGTERM: requests in flight get this long
# One line per request comes from the app itself (app/logs.py), with its request id.
accesslog = None


def on_starting(server):
    from app.logs import configure_logging

    configure_logging("web")


def post_fork(server, worker):
    # The app was built in the master: never share its pooled database connections.
    from app.extensions import db

    with server.app.wsgi().app_context():
        db.engine.dispose(close=False)


def post_worker_init(worker):
    from app.serial import OneAtATime

    worker.wsgi = OneAtATime(worker.wsgi)
