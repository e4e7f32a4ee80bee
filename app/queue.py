"""The RQ queue: JSON serializer (pickle would let anyone who can write to Redis
run code on the worker), explicit connections, built from the app's settings."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

# The embedded server (fakeredis over TCP, see run.py) has no INFO command, which RQ
# uses only to learn the server version; RQ caches the answer under this attribute.
# Below 6.2 RQ dequeues with BLPOP, which that server blocks on correctly.
_RQ_VERSION_ATTRIBUTE = "__rq_redis_server_version"
EMBEDDED_SERVER_VERSION = (6, 0, 0)


def redis_connection(url: str | None = None) -> Redis:
    url = url or current_app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("REDIS_URL is not set (run.py starts an embedded one)")
    connection = Redis.from_url(url)
    if current_app.config.get("EMBEDDED_QUEUE"):
        setattr(connection, _RQ_VERSION_ATTRIBUTE, EMBEDDED_SERVER_VERSION)
    return connection


def get_queue(connection: Redis | None = None) -> Queue:
    return Queue(
        current_app.config.get("RQ_QUEUE", "default"),
        connection=connection or redis_connection(),
        serializer=JSONSerializer,
    )
