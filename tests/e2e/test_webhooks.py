"""A customer's manager adds a webhook on the Webhooks screen, requests licenses,
watches the delivery arrive (through the live worker) in the delivery log, and
replays it; the receiver checks every signature and dedupes by event id."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.receiver import Receiver, serve
from tests.stack import wait_for

pytestmark = pytest.mark.browser


def test_a_webhook_is_added_delivered_logged_and_replayed(page, live_server):
    with serve(Receiver()) as receiver:
        sign_in(page, live_server, "customer2")
        page.locator(".navbar-right .dropdown-toggle").click()
        page.get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        page.get_by_label("URL").fill(receiver.url)
        boxes = page.locator("input[name=events]")
        for index in range(boxes.count()):
            box = boxes.nth(index)
            if box.get_attribute("value") != "order.requested":
                box.uncheck()
        page.get_by_role("button", name="Add webhook").click()
        receiver.secret = page.locator("[data-webhook-secret]").input_value()
        assert receiver.secret.startswith("whsec_")

        page.goto(f"{live_server}/orders/request")
        page.get_by_label("Number of licenses").fill("12")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("body")).to_contain_text("Requested 12 Premium licenses")
        wait_for(lambda: receiver.events("order.requested"), 60, "the webhook")
        (event,) = receiver.events("order.requested")
        assert event["data"]["quantity"] == 12 and event["company"]["name"] == "Initech Accounting"

        page.goto(f"{live_server}/webhooks/")
        page.get_by_role("link", name=receiver.url).click()
        row = page.locator("[data-deliveries] tbody tr", has_text="order.requested")
        expect(row).to_contain_text("Delivered")
        expect(row).to_contain_text("200")
        row.get_by_role("button", name=re.compile("Replay")).click()
        expect(page.locator(".alert-success")).to_contain_text("queued to be sent again")
        wait_for(lambda: len(receiver.calls) == 2, 60, "the replay")
        assert len(receiver.events()) == 1 and receiver.duplicates == 1
        assert all(call.valid for call in receiver.calls)
