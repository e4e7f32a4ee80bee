"""Licenses → Orders in the browser's terms: Request Licenses, the sections, the
per-row menu with Assign and Decline, bulk Assign, Cancel, the history, Emails."""

import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app import clock
from app.models import Email, Order
from app.services.orders import assign_orders, request_order
from app.services.terms import license_expiry


def post(client, url, data):
    return client.post(url, data={**data, "csrf_token": client.csrf}, follow_redirects=True)


def post_from(client, page: str, url: str, data):
    """POST as a browser does from `page` (its address as the referrer)."""
    return client.post(
        url,
        data={**data, "csrf_token": client.csrf},
        headers={"Referer": f"http://localhost{page}"},
        follow_redirects=True,
    )


def requested(tree, who, quantity=10):
    actor = tree.actor(who)
    return request_order(actor, actor.company_in_view, quantity)


def test_customer_manager_requests_licenses_from_the_orders_tab(tree, as_user, session):
    client = as_user(tree.users["customer"])
    page = client.get("/orders/list/").get_data(as_text=True)
    assert "Request Licenses" in page and ">Orders</a>" in page
    page = post(client, "/orders/request", {"quantity": "15"}).get_data(as_text=True)
    assert "Requested 15 Premium licenses" in page
    order = session.scalar(select(Order))
    assert (order.company_id, order.quantity, order.status) == (tree.customer.id, 15, "requested")
    assert session.scalar(select(func.count()).select_from(Email)) == 1


@pytest.mark.parametrize("quantity", ["0", "-3", "2.5", "ten", "10001", ""])
def test_a_bad_quantity_is_a_form_error_and_creates_nothing(tree, as_user, session, quantity):
    client = as_user(tree.users["customer"])
    response = post(client, "/orders/request", {"quantity": quantity})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "whole number from 1 to 10,000" in html or "Enter a quantity" in html
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_requested_orders_section_lists_the_subtree_with_a_row_menu(tree, as_user, session):
    mine = requested(tree, "customer", 11)
    below = requested(tree, "sub_customer", 12)
    own = requested(tree, "partner", 13)
    foreign = requested(tree, "other_customer", 14)
    session.commit()
    html = as_user(tree.users["partner"]).get("/orders/section/requested").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-pk="(\d+)">(.*?)</tr>', html, re.S))
    assert set(rows) == {str(mine.id), str(below.id), str(own.id)}
    assert str(foreign.id) not in rows
    assert "/orders/decline/" in rows[str(mine.id)] and ">Assign<" in rows[str(below.id)]
    assert ">Assign<" not in rows[str(own.id)]  # its own order is assigned from above
    active = re.search(r'<li class="active">\s*<a href="([^"]+)">([^<]+)</a>', html)
    assert active.groups() == ("/orders/section/requested", "Requested Orders")


@pytest.mark.parametrize("legacy", ["_flt_3_status", "_flt_0_status"])
def test_links_of_older_emails_land_on_the_same_section(tree, as_user, session, legacy):
    requested(tree, "customer", 11)
    assigned = requested(tree, "sub_customer", 12)
    assign_orders(tree.actor("partner"), [assigned.id])
    session.commit()
    client = as_user(tree.users["partner"])
    section = client.get("/orders/section/requested").get_data(as_text=True)
    old = client.get(f"/orders/list/?{legacy}=requested").get_data(as_text=True)
    pks = re.compile(r'<tr data-pk="(\d+)">')
    assert pks.findall(old) == pks.findall(section) and len(pks.findall(old)) == 1
    active = re.compile(r'<li class="active">\s*<a href="[^"]+">([^<]+)</a>')
    assert active.findall(old) == active.findall(section) == ["Requested Orders"]


def test_an_unknown_section_is_not_found(tree, as_user):
    assert as_user(tree.users["partner"]).get("/orders/section/nonsense").status_code == 404


def test_add_filter_by_company_and_quantity_narrows_the_list(tree, as_user, session):
    first, second = requested(tree, "customer", 11), requested(tree, "sub_customer", 99)
    session.commit()
    client = as_user(tree.users["partner"])
    html = client.get(f"/orders/list/?_flt_0_company={tree.sub_customer.id}").get_data(as_text=True)
    assert f'data-pk="{second.id}"' in html and f'data-pk="{first.id}"' not in html
    html = client.get("/orders/list/?_flt_1_quantity=50").get_data(as_text=True)  # greater than
    assert f'data-pk="{second.id}"' in html and f'data-pk="{first.id}"' not in html


def test_the_company_filter_searches_as_you_type_instead_of_listing_every_company(
    tree, as_user, session
):
    client = as_user(tree.users["partner"])
    found = client.get("/orders/related/company", query_string={"q": "c1"}).get_json()
    assert found == {"results": [{"id": tree.customer.id, "text": tree.customer.name}]}
    everyone = client.get("/orders/related/company").get_json()["results"]
    assert {r["text"] for r in everyone} == {"Partner P", "Sub S", "Customer C1", "Customer C2"}
    # The list page carries the picker, not the companies; a chosen one is its option.
    html = client.get("/orders/list/").get_data(as_text=True)
    assert "related-picker" in html and "Customer C2" not in html
    html = client.get(f"/orders/list/?_flt_0_company={tree.sub_customer.id}").get_data(as_text=True)
    assert f'value=\\"{tree.sub_customer.id}\\" selected\\u003eCustomer C2' in html
    # The filters a list with no company picked keeps for its next pages never hold one.
    html = client.get("/orders/list/?_flt_3_status=requested").get_data(as_text=True)
    assert "related-picker" in html and "Customer C2" not in html


def assign(client, *orders, **extra):
    return post(client, "/orders/assign", {"order": [o.id for o in orders], **extra})


def test_assign_shows_what_will_happen_then_tells_the_customer_managers(tree, as_user, session):
    tree.customer.timezone = "Pacific/Auckland"
    order = requested(tree, "customer", 1200)
    session.commit()
    client = as_user(tree.users["partner"])
    listed = client.get("/orders/section/requested").get_data(as_text=True)
    preview_url = f"/orders/assign?order={order.id}"
    assert preview_url in listed  # the row menu's Assign opens the preview
    html = client.get(preview_url).get_data(as_text=True)
    expires, _day = license_expiry(clock.now(), "Pacific/Auckland", 12)
    local = expires.astimezone(ZoneInfo("Pacific/Auckland"))
    assert re.search(r'data-assign="quantity">1,200<', html)
    assert "Customer C1" in html and f"{local.day} {local:%b %Y}, {local:%H:%M %Z}" in html
    assert "Pacific/Auckland" in html and "Assign 1 order" in html
    session.expire_all()
    assert session.get(Order, order.id).status == "requested"  # nothing done yet
    page = assign(client, order).get_data(as_text=True)
    assert f"Assigned 1 order: #{order.id}" in page
    session.expire_all()
    assert session.get(Order, order.id).status == "assigned"
    kinds = session.scalars(
        select(Email.kind).where(Email.recipient == tree.users["customer"].email)
    )
    assert list(kinds) == ["order_assigned"]


def test_bulk_assign_is_all_or_nothing_and_says_which_orders(tree, as_user, session):
    ok, own = requested(tree, "customer", 1), requested(tree, "partner", 2)
    session.commit()
    client = as_user(tree.users["partner"])
    listed = f"/orders/section/requested?_flt_0_company={tree.customer.id}"
    form = {"action": "assign", "rowid": [ok.id, own.id]}
    page = post_from(client, listed, "/orders/action_post", form)
    assert page.status_code == 200  # back on the list it came from, with the reason
    assert page.request.full_path == listed
    assert f"Order #{own.id}" in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Order, ok.id).status == "requested"
    page = post_from(client, listed, "/orders/action_post", {"action": "assign", "rowid": [ok.id]})
    assert page.request.path == "/orders/assign" and "Customer C1" in page.get_data(as_text=True)
    back = re.search(r'name="next" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    page = assign(client, ok, next=back.replace("&amp;", "&"))
    assert "Assigned 1 order: #" in page.get_data(as_text=True)
    assert page.request.full_path == listed  # its filter kept after the action
    assert assign(client, ok, next="https://evil.example/").request.path == "/orders/list/"


def test_an_action_with_nothing_ticked_says_what_to_select(tree, as_user):
    client = as_user(tree.users["partner"])
    listed = "/orders/section/requested"
    page = post_from(client, listed, "/orders/action_post", {"action": "assign"})
    assert page.request.path == listed
    assert "Select at least one order first." in page.get_data(as_text=True)


def test_assigning_twice_says_already_assigned(tree, as_user, session):
    order = requested(tree, "customer", 8)
    session.commit()
    client = as_user(tree.users["partner"])
    assign(client, order)
    page = assign(client, order).get_data(as_text=True)
    assert f"Order #{order.id} is already assigned" in page
    # The preview says so too, on the list, instead of offering Assign again.
    page = client.get(f"/orders/assign?order={order.id}", follow_redirects=True)
    assert page.request.path == "/orders/list/"
    assert f"Order #{order.id} is already assigned" in page.get_data(as_text=True)


def test_decline_with_a_reason_shows_in_the_history(tree, as_user, session):
    order = requested(tree, "customer", 8)
    session.commit()
    client = as_user(tree.users["partner"])
    page = post(client, f"/orders/decline/{order.id}", {"reason": ""}).get_data(as_text=True)
    assert "Give a reason" in page
    page = post(client, f"/orders/decline/{order.id}", {"reason": "Over budget"})
    html = page.get_data(as_text=True)
    assert "Declined order" in html and "Over budget" in html
    history = html.split("order-history", 1)[1]
    assert "Requested" in history and "Declined" in history and "Customer_Cm Manager" in history


def test_customer_cancels_its_request_but_cannot_assign_or_decline(tree, as_user, session):
    order = requested(tree, "customer", 8)
    session.commit()
    client = as_user(tree.users["customer"])
    html = client.get("/orders/list/").get_data(as_text=True)
    assert "/orders/cancel/" in html and ">Assign<" not in html
    assert post(client, f"/orders/action/assign/{order.id}", {}).status_code == 403
    assert assign(client, order).status_code == 403
    assert client.get(f"/orders/assign?order={order.id}").status_code == 403
    assert post(client, f"/orders/decline/{order.id}", {"reason": "x"}).status_code == 403
    page = post(client, f"/orders/cancel/{order.id}", {"reason": "Duplicate order"})
    assert "Cancelled order" in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Order, order.id).status == "cancelled"


def test_emails_page_shows_each_manager_what_concerns_its_companies(tree, as_user, session):
    order = requested(tree, "customer", 5)
    assign_orders(tree.actor("partner"), [order.id])
    requested(tree, "other_customer", 6)
    session.commit()
    customer = as_user(tree.users["customer"])
    html = customer.get("/emails/list/").get_data(as_text=True)
    # Its own managers' email (assigned), not the one its request sent to the partner.
    assert "License Assigned Notification" in html and "Customer C3" not in html
    assert "License Request Notification" not in html
    to_partner = session.scalar(select(Email).where(Email.kind == "order_requested"))
    assert customer.get(f"/emails/show/{to_partner.id}").status_code == 404
    partner = as_user(tree.users["partner"]).get("/emails/list/").get_data(as_text=True)
    assert "5 licenses for Customer C1" in partner
    html = as_user(tree.users["other_partner"]).get("/emails/list/").get_data(as_text=True)
    assert "6 licenses for Customer C3" in html and "Customer C1" not in html
    html = as_user(tree.users["admin"]).get("/emails/list/").get_data(as_text=True)
    assert "Customer C1" in html and "Customer C3" in html and "Pending" in html


def test_only_the_admin_retries_and_only_failed_emails(tree, as_user, session):
    requested(tree, "customer", 5)
    session.commit()
    email = session.scalar(select(Email))
    admin = as_user(tree.users["admin"])
    page = post(admin, "/emails/action_post", {"action": "retry", "rowid": [email.id]})
    assert "Only failed or needs-attention emails can be retried" in page.get_data(as_text=True)
    email.state, email.last_error = "failed", "550 no such user"
    session.commit()
    page = post(admin, "/emails/action_post", {"action": "retry", "rowid": [email.id]})
    assert "1 email will be sent again" in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Email, email.id).state == "retrying"
    manager = as_user(tree.users["partner"])
    assert (
        post(manager, "/emails/action_post", {"action": "retry", "rowid": [email.id]}).status_code
        == 403
    )


def test_assigning_a_renewal_request_says_who_gets_its_licenses(tree, as_user, session):
    from datetime import timedelta

    from app.models import Learner
    from app.services import renewal_requests
    from app.services.learners import set_learners_active
    from tests import factories

    _, active = factories.licenses_expiring(tree.customer, 2, clock.now() + timedelta(days=5))
    expired = factories.expired_people(tree.customer, 3)
    people = select(Learner.id).where(Learner.id.in_([p.id for p in active + expired]))
    customer = tree.actor("customer")
    order = renewal_requests.request(customer, tree.customer.id, people).order
    set_learners_active(customer, [expired[0].id], False)
    session.commit()
    client = as_user(tree.users["partner"])
    html = " ".join(client.get(f"/orders/assign?order={order.id}").get_data(as_text=True).split())
    assert "its licenses go at once to <strong>4 people</strong>, 2 of them renewed now" in html
    assert f"1 seat will stay free: {expired[0].full_name} (deactivated meanwhile)." in html
    html = post(client, "/orders/assign", {"order": order.id}).get_data(as_text=True)
    assert f"Order #{order.id}: 4 people licensed (2 renewed at assignment)" in html
    shown = client.get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "Renewed at assignment" in shown and "Deactivated meanwhile" in shown


def test_request_licenses_offers_each_manager_its_types(tree, as_user, session):
    client = as_user(tree.users["customer"])
    page = client.get("/orders/request").get_data(as_text=True)
    assert 'name="license_type" value="premium"' in page and "<select" not in page
    forged = post(client, "/orders/request", {"quantity": "5", "license_type": "nfr"})
    assert "NFR licenses are for a partner" in forged.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    client = as_user(tree.users["partner"])
    page = client.get("/orders/request").get_data(as_text=True)
    offered = re.findall(r'<option value="(\w+)"', page[page.index('id="license_type"') :])
    assert offered == ["premium", "managed", "nfr"]
    done = post(client, "/orders/request", {"quantity": "10", "license_type": "nfr"})
    assert "Requested 10 NFR licenses" in done.get_data(as_text=True)
    listed = client.get("/orders/list/?_flt_0_license_type=nfr").get_data(as_text=True)
    assert "<td>NFR</td>" in listed


def test_a_po_number_and_a_co_termed_expiry_from_request_to_assign(tree, as_user, session):
    from datetime import timedelta

    from app.services.orders import coterm_choices

    pool = assign_orders(tree.actor("partner"), [requested(tree, "customer", 10).id])[0]
    session.commit()
    client = as_user(tree.users["customer"])
    page = client.get("/orders/request").get_data(as_text=True)
    assert f"With order #{pool.id} (Premium): expires" in page
    form = {"quantity": "4", "license_type": "premium", "po_number": "PO-77"}
    post(client, "/orders/request", {**form, "coterm_order_id": str(pool.id)})
    top_up = session.scalar(select(Order).where(Order.po_number == "PO-77"))
    assert top_up.coterm_order_id == pool.id
    listed = client.get("/orders/list/?_oc_OrderView=requested_at&q=PO-77").get_data(as_text=True)
    assert "<td>PO-77</td>" in listed
    partner = as_user(tree.users["partner"])
    preview = partner.get(f"/orders/assign?order={top_up.id}").get_data(as_text=True)
    assert f"Co-termed: these seats expire with order #{pool.id}" in preview
    # The pool expires before anyone assigns: Assign says so, and takes the normal
    # term only when asked to.
    clock.set_offset(clock.offset() + timedelta(days=370))
    try:
        assert coterm_choices(tree.customer.id, clock.now()) == []
        preview = partner.get(f"/orders/assign?order={top_up.id}").get_data(as_text=True)
        assert f"Order #{pool.id}, which this request was to expire with, expired" in preview
        refused = post(partner, "/orders/assign", {"order": top_up.id}).get_data(as_text=True)
        assert "assign with the normal term instead" in refused
        done = post(partner, "/orders/assign", {"order": top_up.id, "normal_term": top_up.id})
        assert f"Assigned 1 order: #{top_up.id}" in done.get_data(as_text=True)
    finally:
        clock.set_offset(clock.offset() - timedelta(days=370))


def test_assign_may_approve_fewer_seats_with_a_reason(tree, as_user, session):
    order = requested(tree, "customer", 10)
    session.commit()
    client = as_user(tree.users["partner"])
    preview = client.get(f"/orders/assign?order={order.id}").get_data(as_text=True)
    assert "Approve fewer seats (optional)" in preview
    refused = post(client, "/orders/assign", {"order": order.id, "approve": "7"})
    assert "A reason for the rest is required" in refused.get_data(as_text=True)
    assert session.get(Order, order.id).status == "requested"
    done = post(client, "/orders/assign", {"order": order.id, "approve": "7", "reason": "Budget"})
    html = done.get_data(as_text=True)
    assert "7 of 10 approved; 3 declined (order #" in html and "): Budget." in html
