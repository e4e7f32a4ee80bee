"""Renewals (issue 17, first part): the subtree's companies with their own figures —
equal to counts taken independently in raw SQL — sorted, filtered by ranges,
exported, each figure one POST from that company's tab in Manager Mode; never a
company outside the viewer's subtree."""

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app import clock
from app.models import AuditEvent
from app.services import renewals
from app.services.orders import request_order
from tests import factories


def post(client, url, data=None):
    return client.post(url, data={**(data or {}), "csrf_token": client.csrf})


@pytest.fixture
def world(tree, session):
    """Every license state: Customer C1 with expired people, people expiring in 10
    and in 60 days, a pool with free seats and an open request; Customer C2 (under
    Sub S) with expired people and a request; Partner Q's customer with its own."""
    now = clock.now()
    factories.expired_people(tree.customer, 3)
    tree.soonest = now + timedelta(days=10)
    factories.licenses_expiring(tree.customer, 2, tree.soonest, quantity=5)
    factories.licenses_expiring(tree.customer, 4, now + timedelta(days=60))
    request_order(factories.replace_actor_in(tree.customer), tree.customer.id, 7)
    factories.expired_people(tree.sub_customer, 5)
    request_order(factories.replace_actor_in(tree.sub_customer), tree.sub_customer.id, 9)
    request_order(factories.replace_actor_in(tree.sub_customer), tree.sub_customer.id, 2)
    factories.expired_people(tree.other_customer, 1)
    session.commit()
    return tree


RAW = """
SELECT c.id,
  (SELECT COUNT(*) FROM learners l WHERE l.company_id = c.id AND l.active) AS learners,
  (SELECT COALESCE(SUM(o.quantity), 0) FROM orders o WHERE o.company_id = c.id
     AND o.status = 'assigned' AND o.expires_at > :now) AS assigned,
  (SELECT COALESCE(SUM(o.allocated), 0) FROM orders o WHERE o.company_id = c.id
     AND o.status = 'assigned' AND o.expires_at > :now) AS allocated,
  (SELECT COUNT(*) FROM learners l WHERE l.company_id = c.id AND l.active
     AND l.license_expires_at > :now AND l.license_expires_at <= :in30) AS expiring_30,
  (SELECT COUNT(*) FROM learners l WHERE l.company_id = c.id AND l.active
     AND l.license_expires_at > :now AND l.license_expires_at <= :in90) AS expiring_90,
  (SELECT COUNT(*) FROM learners l WHERE l.company_id = c.id AND l.active
     AND l.license_expires_at <= :now) AS expired,
  (SELECT COUNT(*) FROM orders o WHERE o.company_id = c.id
     AND o.status = 'requested') AS open_requests,
  (SELECT COALESCE(SUM(o.quantity), 0) FROM orders o WHERE o.company_id = c.id
     AND o.status = 'requested') AS open_seats
FROM companies c
"""


def test_each_companys_figures_equal_independent_counts(world, session):
    now = clock.now()
    raw = {
        row.id: row._asdict()
        for row in session.execute(
            text(RAW),
            {"now": now, "in30": now + timedelta(days=30), "in90": now + timedelta(days=90)},
        )
    }
    result = renewals.page(world.actor("partner"), renewals.Query(page_size=100))
    assert {r.name for r in result.rows} == {"Partner P", "Sub S", "Customer C1", "Customer C2"}
    for row in result.rows:
        expected = raw[row.company_id]
        shown = {k: row.figures[k] for k in renewals.COUNTS if k != "free"}
        assert shown == {k: int(expected[k]) for k in shown}, row.name
        assert row.figures["free"] == int(expected["assigned"]) - int(expected["allocated"])
    c1 = next(r for r in result.rows if r.name == "Customer C1")
    assert (c1.figures["expired"], c1.figures["expiring_30"], c1.figures["expiring_90"]) == (
        3,
        2,
        6,
    )
    assert c1.figures["free"] == 3 and (c1.figures["open_requests"], c1.figures["open_seats"]) == (
        1,
        7,
    )
    assert abs(c1.next_expiry - world.soonest) < timedelta(seconds=1)
    sub = next(r for r in result.rows if r.name == "Sub S")
    assert sub.figures["expired"] == 0 and sub.subtree["expired"] == 5  # its own, then its tree
    assert sub.subtree["open_requests"] == 2 and sub.subtree["open_seats"] == 11


def test_sorting_ranges_and_search(world):
    actor = world.actor("partner")

    def names(**query):
        return [r.name for r in renewals.page(actor, renewals.Query(**query)).rows]

    assert names(sort="expired")[:2] == ["Customer C2", "Customer C1"]
    assert names(sort="expired", descending=False)[-2:] == ["Customer C1", "Customer C2"]
    assert names(ranges={"expiring_30": (1, None), "open_requests": (None, 0)}) == []
    assert names(ranges={"expiring_30": (1, None)}) == ["Customer C1"]
    assert names(ranges={"open_seats": (8, 20)}) == ["Customer C2"]
    assert names(search="c2") == ["Customer C2"]
    assert names(sort="next_expiry", descending=False)[0] == "Customer C1"  # the only one


def test_the_screen_links_figures_and_pages(world, as_user):
    client = as_user(world.users["partner"])
    html = client.get("/renewals/?sort=expired&psize=2").get_data(as_text=True)
    assert "Companies 1–2 of 4" in html
    rows = re.findall(r'<tr data-company="(\d+)"', html)
    assert rows == [str(world.sub_customer.id), str(world.customer.id)]
    assert f'action="/renewals/open/{world.customer.id}/expired"' in html
    assert "Partner Q" not in html and "Customer C3" not in html
    html = client.get("/renewals/?min_expiring_30=1&max_open_requests=0").get_data(as_text=True)
    assert "No company matches." in html
    html = client.get("/renewals/?min_expired=abc&sort=nonsense").get_data(as_text=True)
    assert "is not a whole number" in html and "cannot be sorted by" in html
    assert "Companies 1–4 of 4" in html  # the bad arguments left out, nothing else


def test_a_figure_opens_the_companys_tab_in_manager_mode_audited(world, as_user, session):
    client = as_user(world.users["partner"])
    response = post(client, f"/renewals/open/{world.customer.id}/expired")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/licenses/expired/list/"
    )
    page = client.get("/licenses/expired/list/").get_data(as_text=True)
    assert "manage-banner" in page and "Customer C1" in page
    entered = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "manage_mode.entered")
    ).all()
    assert [e.company_id for e in entered] == [world.customer.id]
    # The own company's figures are links to its own tabs; never a mode in a URL.
    html = client.get("/renewals/").get_data(as_text=True)
    assert f'action="/renewals/open/{world.partner.id}/' not in html
    assert client.get(f"/renewals/open/{world.customer.id}/expired").status_code == 405


def test_nobody_reaches_another_subtree_or_renewals_without_the_role(world, as_user, session):
    client = as_user(world.users["sub"])
    html = client.get("/renewals/").get_data(as_text=True)
    assert "Customer C2" in html and "Customer C1" not in html and "Partner P<" not in html
    for company in (world.customer, world.other_customer, world.partner):
        assert post(client, f"/renewals/open/{company.id}/expired").status_code == 404
    assert post(client, f"/renewals/open/{world.sub_customer.id}/nonsense").status_code == 404
    exported = client.get("/renewals/export/csv").get_data(as_text=True)
    assert "Customer C2" in exported and "Customer C1" not in exported
    assert (
        session.scalar(select(AuditEvent).where(AuditEvent.action == "manage_mode.entered")) is None
    )
    for who in ("customer", "sub_customer"):
        client = as_user(world.users[who])
        assert client.get("/renewals/").status_code == 403
        assert client.get("/renewals/export/csv").status_code == 403
        assert post(client, f"/renewals/open/{world.customer.id}/expired").status_code == 403


def test_exports_keep_plain_numbers_and_iso_times(world, as_user, session):
    session.execute(
        text("UPDATE companies SET name = '=HYPERLINK(1)' WHERE id = :id"),
        {"id": world.sub_customer.id},
    )
    session.commit()
    client = as_user(world.users["partner"])
    body = client.get("/renewals/export/csv?sort=name&dir=asc").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:5] == ["Company", "Kind", "Plan", "Learners", "Seats assigned"]
    by_name = {r[0]: r for r in rows[1:]}
    assert "'=HYPERLINK(1)" in by_name  # a formula-like name neutralised
    c1 = by_name["Customer C1"]
    assert c1[rows[0].index("Plan")] == "Premium"
    assert c1[rows[0].index("Expired")] == "3" and c1[rows[0].index("Seats requested")] == "7"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c1[rows[0].index("Next expiry")])
    xlsx = client.get("/renewals/export/xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def orders_of(session, company):
    from app.models import Order

    return session.scalars(select(Order).where(Order.company_id == company.id, Order.renewal)).all()


def test_request_renewals_confirms_each_companys_count_then_requests(world, as_user, session):
    client = as_user(world.users["partner"])
    ids = [world.customer.id, world.sub_customer.id, world.sub.id]
    form = {"company": ids, "window": "30"}
    page = post(client, "/renewals/request", form).get_data(as_text=True)
    # C1: its 2 expiring within 30 days (not the 60-day ones) and its 3 expired five
    # weeks ago (within RENEWAL_EXPIRED_DAYS); C2: its 5 expired; Sub S: nobody.
    cell = r'data-company="(\d+)">\s*<td>[^<]*</td>\s*<td data-draft="people">([^<]*)<'
    counts = {int(k): v for k, v in re.findall(cell, page)}
    assert counts == {
        world.customer.id: "5",
        world.sub_customer.id: "5",
        world.sub.id: "nobody: no request",
    }
    assert "Request renewals for 2 companies (10 people)" in page
    assert not orders_of(session, world.customer)  # nothing requested yet
    done = post(client, "/renewals/request", {**form, "confirm": "y"})
    assert done.status_code == 302
    (c1,) = orders_of(session, world.customer)
    (c2,) = orders_of(session, world.sub_customer)
    assert (c1.quantity, c2.quantity, c1.status) == (5, 5, "requested")
    behalf = session.scalars(
        select(AuditEvent.on_behalf_of_id).where(
            AuditEvent.action == "order.requested", AuditEvent.entity_id.in_([c1.id, c2.id])
        )
    ).all()
    assert sorted(behalf) == sorted([world.customer.id, world.sub_customer.id])
    # Asked again, the same people are left out and counted.
    again = post(client, "/renewals/request", {"only": world.customer.id, "window": "30"})
    assert f"5 people are already in request #{c1.id}" in again.get_data(as_text=True)


def test_request_renewals_refuses_bad_input_and_other_subtrees(world, as_user, session):
    client = as_user(world.users["sub"])
    for company in (world.customer, world.other_customer):
        response = post(client, "/renewals/request", {"company": company.id, "window": "30"})
        assert response.status_code == 404
        confirm = {"company": company.id, "window": "30", "confirm": "y"}
        assert post(client, "/renewals/request", confirm).status_code == 404
    client = as_user(world.users["partner"])
    for form in ({"company": world.customer.id, "window": "45"}, {"window": "30"}):
        response = post(client, "/renewals/request", {**form, "confirm": "y"})
        assert response.status_code == 302
        message = client.get(response.location).get_data(as_text=True)
        assert "Choose a window of 30, 60, 90 days" in message or "Tick the companies" in message
    assert not orders_of(session, world.customer)
    for who in ("customer", "sub_customer"):
        client = as_user(world.users[who])
        form = {"company": world.customer.id, "window": "30", "confirm": "y"}
        assert post(client, "/renewals/request", form).status_code == 403
    assert not orders_of(session, world.customer)


def test_and_assign_now_from_renewals_licenses_the_people_at_once(world, as_user, session):
    client = as_user(world.users["partner"])
    form = {"company": world.sub_customer.id, "window": "90", "confirm": "y", "assign_now": "y"}
    response = post(client, "/renewals/request", form)
    message = client.get(response.location).get_data(as_text=True)
    assert "assigned now" in message and "5 people licensed" in message
    (order,) = orders_of(session, world.sub_customer)
    assert (order.status, order.allocated) == ("assigned", 5)


def test_each_company_shows_its_plan_on_renewals_and_the_company_list(world, as_user, session):
    """Managed over Premium; NFR only; none: "—" — sortable on Renewals."""
    from dataclasses import replace as with_

    from app.services.orders import assign_orders

    partner = world.actor("partner")
    managing = with_(partner, managing_company_id=world.sub_customer.id)
    managed = request_order(managing, world.sub_customer.id, 5, "managed")
    nfr = request_order(partner, world.partner.id, 10, "nfr")
    assign_orders(world.actor("admin"), [managed.id, nfr.id])
    session.commit()
    expected = {
        world.customer.id: "Premium",
        world.sub_customer.id: "Managed",
        world.partner.id: "NFR only",
        world.sub.id: "—",
    }
    grid = renewals.page(partner, renewals.Query(sort="plan", page_size=100))
    plans = {r.company_id: r.plan for r in grid.rows}
    assert {k: plans[k] for k in expected} == expected
    ranks = ["—", "NFR only", "Premium", "Free Trial", "Managed"]
    shown = [ranks.index(r.plan) for r in grid.rows]
    assert shown == sorted(shown, reverse=True)  # most managed first
    client = as_user(world.users["partner"])
    html = client.get("/renewals/").get_data(as_text=True)
    assert f'data-plan="{world.sub_customer.id}">Managed<' in html
    listed = client.get("/companies/list/").get_data(as_text=True)
    row = listed[listed.index("Customer C2") :]
    assert "<td>Managed</td>" in row[: row.index("</tr>")]
