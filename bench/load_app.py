"""The panel as gunicorn serves it (`run:app`) plus the bench-only ceiling page
(`bench/ceiling.py`), for `bench/load.py`:

    gunicorn -w 4 bench.load_app:app

Never part of the production app: only the load bench serves this module.
"""

from __future__ import annotations

from bench.ceiling import add_ceiling
from run import app

add_ceiling(app)
