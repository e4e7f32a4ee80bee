"""Emails end to end: a committed change, the machine's Redis, a real `worker.py`
process (burst mode) and a real SMTP server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Email
from app.services.orders import request_order
from tests import factories
from tests.settings import REDIS_URL, drop_queue, new_queue, worker_environment
from tests.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def smtp_server():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def committed(committed_app, smtp_server):
    """The worker is another process: the data must be committed, on a database of
    its own, with a queue name of its own on the machine's Redis."""
    queue = new_queue()
    app, url = committed_app(REDIS_URL=REDIS_URL, RQ_QUEUE=queue, **smtp_server.config)
    tree = factories.build_tree(learners_per_company=0)
    db.session.commit()
    yield app, tree, worker_environment(url, queue, smtp_server.port)
    drop_queue(queue)


def run_worker(env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_request_email_reaches_the_account_manager_through_the_worker(committed, smtp_server):
    app, tree, env = committed
    actor = tree.actor("customer")
    request_order(actor, actor.company_in_view, 12)
    db.session.commit()  # after the commit, the row's send job is on the queue
    result = run_worker(env)
    assert result.returncode == 0, result.stderr
    (message,) = smtp_server.mailbox.to(tree.users["partner"].email)
    assert message["Subject"] == "License Request Notification: 12 licenses for Customer C1"
    assert "requested 12 licenses for Customer C1" in message.get_payload()
    db.session.rollback()  # end this session's snapshot; read what the worker wrote
    assert db.session.scalars(select(Email.state)).all() == ["sent"]


def test_rows_still_pending_when_the_worker_starts_are_sent(committed, smtp_server):
    app, tree, env = committed
    app.config["REDIS_URL"] = None  # as if the enqueue after commit had been lost
    actor = tree.actor("sub_customer")
    request_order(actor, actor.company_in_view, 3)
    db.session.commit()
    assert db.session.scalars(select(Email.state)).all() == ["pending"]
    db.session.rollback()  # hold no transaction while the worker runs
    result = run_worker(env)
    assert result.returncode == 0, result.stderr
    assert len(smtp_server.mailbox.to(tree.users["sub"].email)) == 1
    db.session.rollback()  # end this session's snapshot; read what the worker wrote
    assert db.session.scalars(select(Email.state)).all() == ["sent"]
    # A second worker run finds nothing to send: the key is never sent twice.
    assert run_worker(env).returncode == 0
    assert len(smtp_server.mailbox.messages) == 1


def test_with_log_format_json_every_worker_log_line_is_a_json_object(committed, smtp_server):
    app, tree, env = committed
    actor = tree.actor("customer")
    request_order(actor, actor.company_in_view, 4)
    db.session.commit()
    db.session.rollback()
    result = run_worker({**env, "LOG_FORMAT": "json"})
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert lines and {line["role"] for line in lines} == {"worker"}
    assert any(line["logger"] == "rq.worker" and "Job OK" in line["message"] for line in lines)
