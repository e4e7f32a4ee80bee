"""The RQ worker, inside one app context (built once per process).

    REDIS_URL=redis://127.0.0.1:6379/0 python worker.py [--burst] [--no-scheduler]
    REDIS_URL=… python worker.py --scheduler-only

By default the worker also runs the scheduler of periodic jobs in a thread (one
leader across all processes, enforced in Redis).

Jobs run in forked work horses; each horse drops the inherited database
connections before its first query so no connection is shared across the fork.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from flask import current_app
from rq import Worker
from rq.serializers import JSONSerializer

from app import clock, create_app
from app.extensions import db
from app.jobs.dispatch import enqueue_emails
from app.jobs.scheduler import Scheduler
from app.queue import get_queue, redis_connection
from app.services.emails import due_ids


class AppWorker(Worker):
    """An RQ worker whose forked horses never reuse the parent's pooled connections."""

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument(
        "--no-scheduler", action="store_true", help="do not run the periodic-job scheduler"
    )
    parser.add_argument("--scheduler-only", action="store_true", help="run only the scheduler loop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    app = create_app()
    with app.app_context():
        # A crash between a commit and its enqueue loses nothing: rows still
        # pending are queued again whenever a worker starts.
        queued = enqueue_emails(due_ids(clock.now()))
        logging.info("enqueued %d pending email(s)", queued)
        db.session.remove()
        connection = redis_connection()
        queue = get_queue(connection)
        stop = threading.Event()
        scheduler = Scheduler(queue)
        if args.scheduler_only:
            _run_scheduler_until_signalled(scheduler, stop)
            return
        if not args.no_scheduler and not args.burst:
            tick = app.config["SCHEDULER_TICK_SECONDS"]
            threading.Thread(target=scheduler.run, args=(stop, tick), daemon=True).start()
        worker = AppWorker([queue], connection=connection, serializer=JSONSerializer)
        try:
            worker.work(burst=args.burst, with_scheduler=False)
        finally:
            stop.set()
            scheduler.release()


def _run_scheduler_until_signalled(scheduler: Scheduler, stop: threading.Event) -> None:
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        scheduler.run(stop, current_app.config["SCHEDULER_TICK_SECONDS"])
    finally:
        scheduler.release()


if __name__ == "__main__":
    main()
