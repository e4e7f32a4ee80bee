"""Soak: the embedded stack exactly as `make run` starts it — the supervisor, the
embedded queue server, worker.py and gunicorn — through ten minutes of orders
placed as a manager places them (the Request Licenses form over HTTP), each one
emailed by the worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess

import psutil
import pytest

from tests.servers import PanelSession, wait_until_up
from tests.soak.soak import WORKER_ENV, Soak, numbered
from tests.stack import children_named, start, supervisor_of, wait_for, worker_healthy

pytestmark = pytest.mark.soak
SUBJECT = re.compile(r"License Request Notification: ([\d,]+) licenses for Acme Dental")
FIRST_QUANTITY = 7000  # beyond every demo order's quantity


@pytest.mark.timeout(1500)
def test_make_run_keeps_its_worker_and_scheduler_through_ten_minutes(stack_env, tmp_path):
    env, url, mailbox = stack_env
    env = {**env, **WORKER_ENV, "HEARTBEAT_SECONDS": "5"}
    log = tmp_path / "make-run.log"
    make = start(["make", "--no-print-directory", "run"], env, log)
    try:
        wait_until_up(url, make, seconds=120, log=log)
        wait_for(lambda: worker_healthy(url), 60, "the worker's first heartbeat", log)
        (worker,) = children_named(supervisor_of(make), "worker.py")
        customer = PanelSession(url).sign_in("customer", env["DEMO_PASSWORD"])

        soak = Soak(
            submit=lambda n: customer.submit(
                "/orders/request", {"quantity": str(FIRST_QUANTITY + n)}
            ),
            delivered=lambda: numbered(mailbox.subjects(), SUBJECT, FIRST_QUANTITY),
            alive=lambda: worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE,
        )
        soak.check(soak.run(), log)
        assert worker_healthy(url)
    finally:
        _interrupt(make)


def _interrupt(make: subprocess.Popen) -> None:
    if make.poll() is not None:
        return
    os.killpg(make.pid, signal.SIGINT)
    try:
        make.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(make.pid, signal.SIGKILL)
        make.wait()
