"""Soak: worker.py with its scheduler thread on the machine's Redis (the production
shape), through ten minutes of orders requested through the services and
committed, each one emailed by the worker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest
from redis import Redis

from app.extensions import db
from app.services.orders import request_order
from tests import factories
from tests.smtp import SmtpServer
from tests.soak.soak import WORKER_ENV, Soak, fatal_lines, numbered, scale
from tests.stack import ROOT

pytestmark = pytest.mark.soak
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SUBJECT = re.compile(r"License Request Notification: (\d+) licenses for Customer C1")
FIRST_QUANTITY = 7000  # beyond every demo order's quantity


@pytest.fixture
def production(committed_app, tmp_path):
    queue = f"soak-{uuid.uuid4().hex[:8]}"
    with SmtpServer() as smtp:
        app, url = committed_app(REDIS_URL=REDIS_URL, RQ_QUEUE=queue, **smtp.config)
        env = {
            **os.environ,
            **WORKER_ENV,
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "RQ_QUEUE": queue,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp.port),
            "SECRET_KEY": "soak",
            "APP_ENV": "test",
            "HEARTBEAT_SECONDS": "5",
        }
        log = tmp_path / "worker.log"
        with log.open("w") as out:
            worker = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            yield worker, smtp.mailbox, log
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            redis = Redis.from_url(REDIS_URL)
            for key in redis.scan_iter(f"*{queue}*"):
                redis.delete(key)


@pytest.mark.timeout(1500)
def test_worker_py_keeps_working_through_ten_minutes_on_the_machines_redis(production):
    worker, mailbox, log = production
    tree = factories.build_tree(learners_per_company=0)
    db.session.commit()
    actor = tree.actor("customer")

    def submit(n: int) -> None:
        request_order(actor, actor.company_in_view, FIRST_QUANTITY + n)
        db.session.commit()  # its email's job goes on the queue after the commit

    soak = Soak(
        submit=submit,
        delivered=lambda: numbered(mailbox.subjects(), SUBJECT, FIRST_QUANTITY),
        alive=lambda: worker.poll() is None,
    )
    lasted = soak.run()
    done = soak.wait_for_every_job()
    text = log.read_text()
    assert sorted(done) == soak.submitted, "every order's email, once each"
    assert lasted >= 600 * scale()
    assert not fatal_lines(text), fatal_lines(text)
