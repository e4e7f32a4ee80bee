"""The embedded queue server, started exactly as run.py's supervisor starts it, does
everything the worker, RQ and the scheduler ask of a Redis: Lua scripts (also
after the server forgot them), blocking pops with timeouts, pub/sub, expiry —
and it refuses anyone without its password."""

from __future__ import annotations

import os
import threading
import time

import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, ResponseError

from app.supervisor import embedded_queue
from tests.stack import keeping_signal_handlers


@pytest.fixture
def server(tmp_path):
    child, url = embedded_queue(tmp_path / "queue")
    child.start()
    deadline = time.monotonic() + 10
    while not child.ready():
        assert time.monotonic() < deadline, "the embedded queue server did not start"
        time.sleep(0.05)
    yield child, url
    child.stop()


def test_it_is_a_real_server_reached_only_with_its_password(server):
    child, url = server
    info = Redis.from_url(url).info("server")
    assert "valkey_version" in info or "redis_version" in info
    port = Redis.from_url(url).connection_pool.connection_kwargs["port"]
    with pytest.raises((AuthenticationError, ResponseError)):
        Redis(host="127.0.0.1", port=port).ping()
    assert (child.argv[1]).endswith("queue.conf")
    assert os.stat(child.argv[1]).st_mode & 0o777 == 0o600


def test_lua_scripts_run_and_are_loaded_again_after_a_flush(server):
    _child, url = server
    redis = Redis.from_url(url)
    extend = redis.register_script(
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
    )
    redis.set("lock", "me", px=1000)
    assert extend(keys=["lock"], args=["me", 60000]) == 1
    redis.script_flush()  # NOSCRIPT: redis-py loads it again
    assert extend(keys=["lock"], args=["someone else", 60000]) == 0
    assert redis.pttl("lock") > 50000


def test_blocking_pops_wait_their_timeout_and_wake_on_a_push(server):
    _child, url = server
    redis = Redis.from_url(url, socket_timeout=10)
    started = time.monotonic()
    assert redis.blmove("jobs", "taken", 1) is None
    assert 0.9 <= time.monotonic() - started < 5
    threading.Timer(0.3, lambda: Redis.from_url(url).lpush("jobs", "job-1")).start()
    assert redis.blmove("jobs", "taken", 5) == b"job-1"
    assert redis.blpop(["nothing"], 1) is None


def test_pub_sub_delivers_and_keys_expire(server):
    _child, url = server
    redis = Redis.from_url(url)
    channel = redis.pubsub()
    channel.subscribe("rq:pubsub:worker")
    assert channel.get_message(timeout=2)["type"] == "subscribe"
    redis.publish("rq:pubsub:worker", '{"command": "shutdown"}')
    message = channel.get_message(timeout=2)
    assert message["data"] == b'{"command": "shutdown"}'
    channel.close()
    redis.set("heartbeat", "1", px=200)
    time.sleep(0.4)
    assert redis.get("heartbeat") is None


def test_rq_and_the_scheduler_work_through_it(server, committed_app):
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from app.jobs.scheduler import Scheduler
    from app.queue import get_queue

    _child, url = server
    committed_app(REDIS_URL=url, RQ_QUEUE="embedded")
    first, second = Scheduler(get_queue()), Scheduler(get_queue())
    assert first.tick() and second.tick() == []  # one leader
    job = get_queue().enqueue("os.getpid")
    queue = get_queue()
    worker = SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer)
    with keeping_signal_handlers():
        worker.work(burst=True, max_jobs=1 + len(first.schedule))
    assert job.get_status(refresh=True) == "finished"
