"""Builds the app (`run:app` for gunicorn and `flask --app run`) and serves it.

    python run.py           # HOST/PORT override 127.0.0.1:5000

With no REDIS_URL it runs in embedded mode: an in-process Redis-compatible server
(fakeredis over TCP on loopback) and a `worker.py` process beside the web server,
so jobs still never run inside a web request.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading

from app import create_app

app = create_app()


def start_embedded_redis() -> str:
    from fakeredis import TcpFakeServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    threading.Thread(target=server.serve_forever, daemon=True, name="embedded-redis").start()
    return f"redis://127.0.0.1:{port}/0"


def start_worker(redis_url: str) -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": redis_url, "EMBEDDED_QUEUE": "1"}
    worker_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
    worker = subprocess.Popen([sys.executable, worker_py], env=env)
    atexit.register(worker.terminate)
    return worker


def main() -> None:
    # SIGTERM ends the process through SystemExit, so atexit stops the worker too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    redis_url = app.config.get("REDIS_URL")
    if not redis_url:
        redis_url = start_embedded_redis()
        app.config.update(REDIS_URL=redis_url, EMBEDDED_QUEUE=True)
        start_worker(redis_url)
        print(f"Embedded queue at {redis_url}, worker started.", flush=True)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    app.run(host=host, port=port, use_reloader=False, threaded=True)


if __name__ == "__main__":
    main()
