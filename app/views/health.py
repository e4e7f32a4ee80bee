"""Health endpoints for load balancers and monitors: no login, states and ages only.

GET /health          200 while this process answers (liveness)
GET /health/ready    503 only when this web process cannot serve: its database
                     is unreachable (never because of the worker, so a load
                     balancer does not pull web instances when the worker is down)
GET /health/worker   503 when no running worker's heartbeat is younger than
                     WORKER_STALE_SECONDS, or no scheduler leads
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.services import health

blueprint = Blueprint("health", __name__)


def _answer(body: dict, ok: bool):
    response = jsonify({"status": "ok" if ok else "unavailable", **body})
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/health")
def alive():
    return _answer({}, True)


@blueprint.get("/health/ready")
def ready():
    ok = health.database_ready()
    return _answer({"database": "ok" if ok else "unreachable"}, ok)


@blueprint.get("/health/worker")
def worker():
    if not health.database_ready():
        return _answer({"database": "unreachable"}, False)
    live = health.liveness()
    return _answer(
        {
            "worker": {
                "state": "running" if live.worker_running else "not running",
                "heartbeat_age_seconds": live.worker_age,
            },
            "scheduler": {
                "state": "leading" if live.scheduler_leading else "no leader",
                "heartbeat_age_seconds": live.scheduler_age,
            },
            "stale_after_seconds": live.stale_after,
        },
        live.ok,
    )
