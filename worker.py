"""The background worker: RQ's worker and, beside it, the scheduler of periodic jobs
(one leader across all processes, enforced in Redis), inside one app context built
once per process. See app/jobs/background.py.

    REDIS_URL=redis://127.0.0.1:6379/0 python worker.py [--burst] [--no-scheduler]
    REDIS_URL=… python worker.py --scheduler-only
"""

from __future__ import annotations

import argparse

from app import create_app
from app.jobs import background
from app.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument(
        "--no-scheduler", action="store_true", help="do not run the periodic-job scheduler"
    )
    parser.add_argument("--scheduler-only", action="store_true", help="run only the scheduler loop")
    args = parser.parse_args(argv)
    app = create_app()
    configure_logging("scheduler" if args.scheduler_only else "worker")
    with app.app_context():
        if args.scheduler_only:
            background.run_scheduler_only(app)
        else:
            background.run(app, burst=args.burst, scheduler=not args.no_scheduler)


if __name__ == "__main__":
    main()
