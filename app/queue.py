"""The RQ queue and its Redis connections: JSON serializer (pickle would let anyone
who can write to Redis run code on the worker), explicit connections, built from
the app's settings.

Socket timeouts, explicitly. redis-py 8 gives every connection a 5-second socket
timeout unless told otherwise. RQ's worker blocks up to 405 s on its dequeue read
(`worker_ttl - 15`) and treats a socket timeout there as fatal ("Redis connection
timeout, quitting..."). RQ raises its pool's timeout when the `Worker` is built,
but a connection opened earlier — by the scheduler thread sharing the pool —
keeps 5 s, and sooner or later the dequeue read lands on it. So the worker's
connection is built with a timeout beyond the dequeue from the start, and nothing
else (the scheduler, the web, the CLI) ever shares its pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from rq import Queue
from rq.defaults import DEFAULT_WORKER_TTL
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

# Plain commands answer in milliseconds; 5 s means the server is gone.
COMMAND_TIMEOUT = 5.0
# RQ's worker blocks up to `worker_ttl - 15` seconds on its dequeue read.
BLOCKING_TIMEOUT = DEFAULT_WORKER_TTL + 30.0
# An idle pooled connection is checked (PING) before reuse after this long, so a
# server restarted meanwhile (the embedded one, by its supervisor) costs no error.
HEALTH_CHECK_SECONDS = 30


def redis_connection(url: str | None = None, *, blocking: bool = False) -> Redis:
    """A connection to the queue's Redis. `blocking=True` is the worker's own: its
    socket timeout outlasts RQ's blocking dequeue. Use it for nothing else."""
    url = url or current_app.config.get("REDIS_URL")
    if not url:  # a RedisError, so callers tell "no queue" like "queue unreachable"
        raise RedisConnectionError("No queue is configured: REDIS_URL is not set.")
    return Redis.from_url(
        url,
        socket_timeout=BLOCKING_TIMEOUT if blocking else COMMAND_TIMEOUT,
        socket_connect_timeout=COMMAND_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=HEALTH_CHECK_SECONDS,
    )


def get_queue(connection: Redis | None = None) -> Queue:
    return Queue(
        current_app.config.get("RQ_QUEUE", "default"),
        connection=connection or redis_connection(),
        serializer=JSONSerializer,
    )


def scheduler_keys(queue_name: str) -> tuple[str, str, str]:
    """Redis keys of the scheduler's leader lock, of its next-run times and of the
    id of each job's last enqueued run."""
    prefix = f"licpanel:scheduler:{queue_name}"
    return f"{prefix}:leader", f"{prefix}:next", f"{prefix}:last"


@dataclass(frozen=True)
class FailedJob:
    id: str
    description: str
    ended_at: datetime | None
    error: str


@dataclass(frozen=True)
class QueueState:
    """What the System page shows of the queue; `error` when Redis cannot be read."""

    name: str
    depth: int | None = None
    failed_count: int | None = None
    failed: list[FailedJob] = field(default_factory=list)
    error: str | None = None


def queue_state(limit: int = 50) -> QueueState:
    """The queue's depth and its failed jobs (the newest `limit`)."""
    name = current_app.config.get("RQ_QUEUE", "default")
    if not current_app.config.get("REDIS_URL"):
        return QueueState(name, error="No queue is configured (REDIS_URL is not set).")
    try:
        queue = get_queue()
        registry = FailedJobRegistry(queue=queue)
        ids = registry.get_job_ids(0, limit - 1)
        jobs = Job.fetch_many(ids, connection=queue.connection, serializer=JSONSerializer)
        return QueueState(
            name,
            depth=queue.count,
            failed_count=registry.count,
            failed=[_failed(job) for job in jobs if job is not None],
        )
    except RedisError as exc:
        return QueueState(name, error=f"The queue cannot be read: {exc}")


def requeue_failed(job_id: str) -> bool:
    """Put a failed job back on the queue; False when it is no longer a failed job."""
    registry = FailedJobRegistry(queue=get_queue())
    try:
        registry.requeue(job_id)
    except (InvalidJobOperation, NoSuchJobError):
        return False
    return True


def _failed(job: Job) -> FailedJob:
    result = job.latest_result()
    lines = ((result.exc_string if result else None) or "").strip().splitlines()
    ended = job.ended_at
    if ended is not None and ended.tzinfo is None:  # RQ keeps naive UTC
        ended = ended.replace(tzinfo=UTC)
    return FailedJob(job.id, job.description or job.func_name, ended, lines[-1] if lines else "")
