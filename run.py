"""Serves the panel.

    python run.py      # what `make run` does: app/supervisor.py — the embedded queue
                       # (unless REDIS_URL is set), worker.py and gunicorn, supervised

Imported (gunicorn's `run:app`, `flask --app run.py`), it is the app itself.
"""

from __future__ import annotations

if __name__ == "__main__":
    from app.supervisor import main

    main()
else:
    from app import create_app

    app = create_app()
