"""Health, visible: the /health endpoints (no login, states and ages only), the
platform admin's System page, the Emails page's banners, request ids and the
per-request log line."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from app import create_app
from app.clock import real_now
from app.logs import JsonFormatter
from app.models import Heartbeat, PeriodicRun
from app.queue import get_queue
from tests.settings import REDIS_URL, drop_queue, make_config, new_queue
from tests.stack import keeping_signal_handlers


def heartbeat(session, role: str, state: str, age: timedelta = timedelta(0)) -> Heartbeat:
    seen = real_now() - age
    row = Heartbeat(
        name=f"{role}:{uuid.uuid4().hex}",
        role=role,
        host="host-1",
        pid=4321,
        state=state,
        started_at=seen - timedelta(minutes=1),
        seen_at=seen,
    )
    session.add(row)
    session.commit()
    return row


def test_liveness_answers_without_a_login_and_sets_no_cookie(client, session):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_ready_is_200_with_the_database_even_when_no_worker_ever_ran(client, session):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_ready_and_worker_answer_503_when_the_database_is_unreachable(tmp_path):
    broken = create_app(make_config(f"sqlite:///{tmp_path}/missing/dir/panel.db"))
    client = broken.test_client()
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert client.get("/health/worker").status_code == 503
    assert client.get("/health").status_code == 200  # the process itself is alive


def test_worker_health_is_503_when_no_worker_ever_reported(client, session):
    response = client.get("/health/worker")
    assert response.status_code == 503
    body = response.get_json()
    assert body["worker"] == {"state": "not running", "heartbeat_age_seconds": None}
    assert body["scheduler"]["state"] == "no leader"


def test_worker_health_is_200_with_a_fresh_worker_and_a_leading_scheduler(client, session):
    heartbeat(session, "worker", "idle", timedelta(seconds=20))
    heartbeat(session, "scheduler", "leading", timedelta(seconds=3))
    response = client.get("/health/worker")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["worker"]["state"] == "running"
    assert 19 <= body["worker"]["heartbeat_age_seconds"] < 60
    assert body["scheduler"]["state"] == "leading"
    assert set(body) == {"status", "worker", "scheduler", "stale_after_seconds"}
    assert "host" not in json.dumps(body) and "4321" not in json.dumps(body)


@pytest.mark.parametrize(
    "worker_state, age, scheduler_state, down",
    [
        ("idle", timedelta(minutes=6), "leading", "worker"),  # heartbeat over 5 minutes old
        ("stopped", timedelta(seconds=5), "leading", "worker"),  # stopped cleanly just now
        ("stalled", timedelta(seconds=5), "leading", "worker"),  # RQ's loop is stuck
        ("busy", timedelta(seconds=5), "standby", "scheduler"),  # no scheduler leads
    ],
)
def test_worker_health_is_503_with_the_heartbeats_age_when_not_running(
    client, session, worker_state, age, scheduler_state, down
):
    heartbeat(session, "worker", worker_state, age)
    heartbeat(session, "scheduler", scheduler_state, timedelta(seconds=2))
    response = client.get("/health/worker")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert abs(body["worker"]["heartbeat_age_seconds"] - age.total_seconds()) < 30
    states = {"worker": body["worker"]["state"], "scheduler": body["scheduler"]["state"]}
    up = {"worker": "running", "scheduler": "leading"}
    assert states == {**up, down: {"worker": "not running", "scheduler": "no leader"}[down]}
    assert client.get("/health/ready").status_code == 200


def test_the_system_page_shows_processes_leader_and_last_runs_to_the_admin(tree, as_user, session):
    worker = heartbeat(session, "worker", "busy", timedelta(seconds=40))
    heartbeat(session, "scheduler", "leading", timedelta(seconds=2))
    session.add(
        PeriodicRun(
            name="expiry-sweep",
            status="failed",
            started_at=real_now() - timedelta(minutes=3),
            finished_at=real_now() - timedelta(minutes=3),
            detail="OperationalError: the database is locked",
        )
    )
    session.commit()
    page = as_user(tree.users["admin"]).get("/system/").get_data(as_text=True)
    assert "Worker: <strong>running</strong>" in page
    assert "Scheduler: <strong>leading</strong>" in page
    assert worker.name.split(":")[-1][:12] in page and "host-1" in page
    assert page.count('<span class="label label-primary">leader</span>') == 1
    assert "OperationalError: the database is locked" in page
    assert "not run yet" in page  # the jobs that never ran say so
    assert "No queue is configured" in page  # this test app has no REDIS_URL


@pytest.mark.parametrize("who", ["partner", "customer"])
def test_the_system_page_is_the_platform_admins_only(tree, as_user, who):
    assert as_user(tree.users[who]).get("/system/").status_code == 403


@pytest.fixture
def with_queue(app):
    queue = new_queue()
    saved = {k: app.config.get(k) for k in ("REDIS_URL", "RQ_QUEUE")}
    app.config.update(REDIS_URL=REDIS_URL, RQ_QUEUE=queue)
    yield queue
    app.config.update(saved)
    drop_queue(queue)


def test_the_admin_sees_a_failed_job_and_queues_it_again(tree, as_user, app, with_queue):
    with app.app_context():
        job = get_queue().enqueue("app.jobs.periodic.run", "no-such-job")
        run_in_process(get_queue())  # RQ records the KeyError and keeps the job as failed
    client = as_user(tree.users["admin"])
    page = client.get("/system/").get_data(as_text=True)
    assert "KeyError: &#39;no-such-job&#39;" in page and job.id in page
    assert '<strong data-queue="failed">1</strong> failed' in page
    response = client.post(f"/system/failed/{job.id}/retry", data={"csrf_token": client.csrf})
    assert response.status_code == 302
    with app.app_context():
        assert get_queue().job_ids == [job.id]
        assert FailedJobRegistry(queue=get_queue()).count == 0
    again = client.post(f"/system/failed/{job.id}/retry", data={"csrf_token": client.csrf})
    assert "no longer among the failed jobs" in client.get(again.headers["Location"]).get_data(
        as_text=True
    )


def run_in_process(queue) -> None:
    with keeping_signal_handlers():
        SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(
            burst=True
        )


def test_the_emails_page_says_when_the_worker_is_not_running_and_no_mail_server_is_set(
    tree, as_user, session
):
    page = as_user(tree.users["customer"]).get("/emails/list/").get_data(as_text=True)
    assert "Emails are not being sent: the background worker is not running" in page
    assert "No mail server is configured" in page


def test_the_emails_page_has_no_banner_while_the_worker_runs_and_mail_is_set_up(
    tree, as_user, session, smtp
):
    heartbeat(session, "worker", "idle", timedelta(seconds=10))
    page = as_user(tree.users["partner"]).get("/emails/list/").get_data(as_text=True)
    assert "the background worker is not running" not in page
    assert "No mail server is configured" not in page


def test_a_request_id_is_echoed_and_made_when_missing_or_unsafe(client, session):
    given = client.get("/health", headers={"X-Request-ID": "lb-7f3a9c2e-0001"})
    assert given.headers["X-Request-ID"] == "lb-7f3a9c2e-0001"
    unsafe = client.get("/health", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert len(unsafe.headers["X-Request-ID"]) == 32 and "<" not in unsafe.headers["X-Request-ID"]
    assert client.get("/health").headers["X-Request-ID"] != unsafe.headers["X-Request-ID"]


def test_an_error_page_shows_the_request_id_of_its_response(tree, as_user):
    response = as_user(tree.users["customer"]).get("/orders/show/99999999")
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] in response.get_data(as_text=True)


def test_one_json_log_line_per_request_with_who_where_and_how_long(tree, as_user, caplog):
    client = as_user(tree.users["customer"])
    with caplog.at_level(logging.INFO, logger="app.request"):
        response = client.get("/emails/list/")
    (record,) = [r for r in caplog.records if r.name == "app.request"]
    line = json.loads(JsonFormatter("web").format(record))
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["user_id"] == tree.users["customer"].id
    assert line["company_in_view"] == tree.customer.id
    assert (line["route"], line["status"], line["role"]) == ("/emails/list/", 200, "web")
    assert line["duration_ms"] > 0 and line["level"] == "info"
