"""Soak: worker.py with its scheduler thread on the machine's Redis (the production
shape), through ten minutes of orders requested through the services and
committed, each one emailed by the worker."""

from __future__ import annotations

import re
import sys

import pytest

from app.extensions import db
from app.services.orders import request_order
from tests import factories
from tests.settings import REDIS_URL, drop_queue, new_queue, worker_environment
from tests.smtp import SmtpServer
from tests.soak.soak import WORKER_ENV, Soak, numbered
from tests.stack import ROOT, start

pytestmark = pytest.mark.soak
SUBJECT = re.compile(r"License Request Notification: ([\d,]+) licenses for Customer C1")
FIRST_QUANTITY = 7000  # beyond every demo order's quantity


@pytest.fixture
def production(committed_app, tmp_path):
    queue = new_queue("soak")
    with SmtpServer() as smtp:
        app, url = committed_app(REDIS_URL=REDIS_URL, RQ_QUEUE=queue, **smtp.config)
        env = worker_environment(url, queue, smtp.port, **WORKER_ENV, HEARTBEAT_SECONDS=5)
        log = tmp_path / "worker.log"
        worker = start([sys.executable, str(ROOT / "worker.py")], env, log)
        try:
            yield worker, smtp.mailbox, log
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            drop_queue(queue)


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
    soak.check(soak.run(), log)
