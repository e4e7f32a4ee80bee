"""The PSA-style script (tests/psa_script.py: plain requests, no project imports)
renews a customer's expired people through the API of `make run`'s own stack
(run.py's supervisor, the embedded queue, its worker) and hears every step by
webhook, each signature checked by the receiver."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.jobs.test_supervisor import supervised  # noqa: F401 (the fixture)
from tests.psa_script import renew_expired_customer
from tests.receiver import Receiver, serve
from tests.stack import ROOT


def test_a_psa_script_renews_a_customer_and_hears_each_step(supervised, stack_env):  # noqa: F811
    env, url, _mailbox = stack_env
    made = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "api-keys", "create"]
        + ["--user", "partner", "--name", "PSA script"],
        cwd=ROOT,
        env={**env, "FLASK_APP": "run.py"},
        check=True,
        capture_output=True,
        text=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    with serve(Receiver()) as receiver:
        done = renew_expired_customer(url, key, receiver)
    assert all(done["events"].values()), done["events"]
    assert done["allocated"] == len(done["people"])
    assert done["events"]["order.assigned"]["data"]["po_number"] == "PSA-1"
    assert all(call.valid for call in receiver.calls) and receiver.duplicates == 0
    now = datetime.now(UTC)
    for holder in done["holders"]:
        assert datetime.fromisoformat(holder["license_expires_at"]) > now, holder
    assert {d["state"] for d in done["deliveries"]} == {"delivered"}
