"""gunicorn's settings for the panel, in `make run` and in production alike:

    gunicorn -c gunicorn.conf.py run:app

The panel's own worker (app/serial.py): threads wait for connections' first
bytes, so a browser's preconnected socket that sends nothing holds no process (a
sync worker blocks on it until its timeout); the app runs one request per process
at a time (Flask-AppBuilder keeps a list's filters in view-instance state), and a
process with a request in hand leaves new connections to the free ones.
HOST/PORT (or GUNICORN_BIND), WEB_CONCURRENCY, WEB_THREADS and WEB_TIMEOUT
override the defaults.
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
worker_class = "app.serial.OneAtATimeWorker"
threads = int(os.environ.get("WEB_THREADS") or 8)  # waiting connections, one in the app
# A connection is closed after its response, as with sync workers: one kept alive
# would stay with its process, busy or not.
keepalive = 0
# Build the app once in the master, then fork: workers start at once and share memory.
preload_app = True
# A request running longer than this ends with its process, which the master
# restarts (app/serial.py); a 100,000-row import review fits well within it.
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

    app = server.app.wsgi()
    if "sqlalchemy" in getattr(app, "extensions", {}):  # (not the worker's test apps)
        with app.app_context():
            db.engine.dispose(close=False)


def pre_fork(server, worker):
    # What the master built (the app, its views, its templates' code) moves out of
    # the collector's reach: a worker's full collections no longer walk it (and no
    # longer write to its pages, which stay shared with the master).
    import gc

    gc.freeze()
