"""No raw values on screen: no True/False, None, role lists in brackets, audit action
codes or internal email keys — words a manager reads (issue 16, point 8)."""

import re

from sqlalchemy import select

from app.models import Email
from app.services import manage_mode
from app.services.learners import set_learners_active
from app.services.orders import assign_orders, request_order

RAW = ("True", "False", "None", "[Customer Manager]", "[Account Manager]")


def cells(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def test_lists_and_pages_show_words_not_raw_values(tree, as_user, session):
    partner = tree.actor("partner")
    order = request_order(tree.actor("customer"), tree.customer.id, 3)
    assign_orders(partner, [order.id])
    manage_mode.enter(partner, [tree.customer.id])  # audited: manage_mode.entered
    learner = tree.people[tree.customer.name][0]
    set_learners_active(partner, [learner.id], False)
    session.commit()
    email = session.scalar(select(Email).where(Email.kind == "order_assigned"))
    client = as_user(tree.users["partner"])
    pages = [
        "/managers/list/",
        f"/managers/show/{tree.users['customer'].id}",
        "/learners/list/",
        f"/learners/show/{learner.id}",
        "/audit/list/",
        "/emails/list/",
        f"/emails/show/{email.id}",
        "/companies/list/",
        f"/companies/show/{tree.customer.id}",
        "/orders/list/",
        f"/orders/show/{order.id}",
        "/licenses/available/list/",
    ]
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        shown = cells(html)
        assert not [c for c in shown if c in RAW], (url, [c for c in shown if c in RAW])
        assert "manage_mode.entered" not in html, url
        assert email.key not in html, url
        # Times as people read them ("2 Dec 2026, 05:52 UTC"), never a raw timestamp.
        assert not re.search(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d", " ".join(shown)), url
    assert "Deactivated" in cells(client.get("/learners/list/").get_data(as_text=True))
    assert "Manage mode entered" in client.get("/audit/list/").get_data(as_text=True)
