"""The Licenses tabs and Allocate Licenses, through the test client."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from app import clock, display
from app.models import Learner, License
from tests import factories

MANAGING = "managing_company_id"


def post(client, url, data=None):
    return client.post(url, data={**(data or {}), "csrf_token": client.csrf}, follow_redirects=True)


def managing(client, company):
    with client.session_transaction() as sess:
        sess[MANAGING] = company.id
    return client


def staged(client, url, data=None) -> str:
    """Post a selection; returns the confirmation page's URL it redirects to."""
    response = client.post(url, data={**(data or {}), "csrf_token": client.csrf})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].split("?", 1)[0]  # without its Back address


def emails_on(html: str) -> set[str]:
    return set(re.findall(r"<td>([^<\s]+@[^<\s]+)</td>", html))


def seats(html: str) -> dict[str, int]:
    return {
        k: int(v.replace(",", ""))
        for k, v in re.findall(r'data-seats="(\w+)"[^>]*>([\d,]+)<', html)
    }


def test_the_tabs_show_the_company_in_view_in_each_state(tree, as_user, session):
    expired = factories.expired_people(tree.customer, 4)
    order = factories.assigned_order(tree.customer, 10)
    (active,) = factories.learners(tree.customer, 1)  # licensed automatically
    session.commit()
    client = as_user(tree.users["customer"])
    html = client.get("/licenses/expired/list/").get_data(as_text=True)
    assert emails_on(html) == {p.email for p in expired}
    assert seats(html) == {"assigned": 10, "allocated": 1, "free": 9, "expiring": 0, "expired": 4}
    html = client.get("/licenses/allocated/list/").get_data(as_text=True)
    assert emails_on(html) == {active.email}
    html = client.get("/licenses/unlicensed/list/").get_data(as_text=True)
    assert emails_on(html) == {p.email for p in tree.people[tree.customer.name]}
    html = client.get("/licenses/available/list/").get_data(as_text=True)
    assert f"#{order.id}" in html


def test_an_account_manager_sees_the_managed_companys_tabs_only(tree, as_user, session):
    expired = factories.expired_people(tree.sub_customer, 3)
    factories.expired_people(tree.customer, 2)
    session.commit()
    client = managing(as_user(tree.users["partner"]), tree.sub_customer)
    html = client.get("/licenses/expired/list/").get_data(as_text=True)
    assert emails_on(html) == {p.email for p in expired}


def test_select_manually_then_allocate_licenses_then_confirm(tree, as_user, session):
    expired = factories.expired_people(tree.customer, 5)
    order = factories.assigned_order(tree.customer, 10)
    session.commit()
    client = as_user(tree.users["customer"])
    page = client.get("/licenses/expired/list/?select=manual").get_data(as_text=True)
    assert "Allocate Licenses" in page and "Select All" in page
    picked = [expired[0].id, expired[2].id]
    page = post(client, "/licenses/expired/action_post", {"action": "allocate", "rowid": picked})
    html = page.get_data(as_text=True)
    assert re.search(r'data-plan="size">2<', html)
    assert f"2 from order #{order.id}" in html
    assert display.when(order.expires_at, tree.customer.timezone) in html
    confirm_url = re.search(r'action="(/licenses/selection/\d+)"', html) or re.search(
        r"(/licenses/selection/\d+)", html
    )
    page = post(client, confirm_url.group(1))
    html = page.get_data(as_text=True)
    assert "Allocated 2 licenses" in html
    assert emails_on(html) == {expired[0].email, expired[2].email}


def test_select_all_takes_everybody_matching_the_filter_not_only_the_page(tree, as_user, session):
    expired = factories.expired_people(tree.customer, 30)
    factories.assigned_order(tree.customer, 40)
    session.commit()
    client = as_user(tree.users["customer"])
    page = client.get("/licenses/expired/list/?psize_ExpiredView=10&select=manual").get_data(
        as_text=True
    )
    assert len(emails_on(page)) == 10
    assert "Select All — all 30 matching the current filter" in page
    html = post(client, "/licenses/expired/select-all?psize_ExpiredView=10").get_data(as_text=True)
    assert re.search(r'data-plan="size">30<', html)
    # With a filter: only the matching people.
    target = expired[5]
    html = post(client, f"/licenses/expired/select-all?_flt_0_email={target.email}").get_data(
        as_text=True
    )
    assert re.search(r'data-plan="size">1<', html)


def test_too_few_seats_says_how_many_to_request_and_changes_nothing(tree, as_user, session):
    expired = factories.expired_people(tree.customer, 12)
    factories.assigned_order(tree.customer, 9)
    session.commit()
    client = as_user(tree.users["customer"])
    confirm = staged(client, "/licenses/expired/select-all")
    html = client.get(confirm).get_data(as_text=True)
    assert "12 selected, 9 seats free: request 3 more licenses." in html
    assert 'href="/orders/request?quantity=3"' in html and ">Request 3 more<" in html
    assert ">Allocate 9 now<" in html
    form = client.get("/orders/request?quantity=3").get_data(as_text=True)
    assert re.search(r'name="quantity"[^>]*value="3"', form)  # filled in
    html = post(client, confirm).get_data(as_text=True)
    assert "request 3 more licenses" in html
    selection = confirm.rsplit("/", 1)[1]
    assert (
        session.scalar(
            select(func.count())
            .select_from(License)
            .where(
                License.learner_id.in_([p.id for p in expired]),
                License.ended_at.is_(None),
                License.selection_id == int(selection),
            )
        )
        == 0
    )


def test_allocate_n_now_serves_the_first_as_listed_and_back_ticks_the_picks_again(
    tree, as_user, session
):
    expired = factories.expired_people(tree.customer, 4)
    order = factories.assigned_order(tree.customer, 2)
    session.commit()
    listed = sorted(expired, key=lambda p: (p.last_name, p.first_name, p.id))
    client = as_user(tree.users["customer"])
    tab = "/licenses/expired/list/?select=manual&_flt_0_department=&psize_ExpiredView=10"
    response = client.post(
        "/licenses/expired/action_post",
        data={"action": "allocate", "rowid": [p.id for p in expired], "csrf_token": client.csrf},
        headers={"Referer": f"http://localhost{tab}"},
    )
    confirm = response.headers["Location"]
    html = client.get(confirm).get_data(as_text=True)
    back = re.search(r'id="back-to-list" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert back.startswith("/licenses/expired/list/?") and "psize_ExpiredView=10" in back
    ticked = client.get(back).get_data(as_text=True)
    assert set(re.findall(r'value="(\d+)" type="checkbox"[^>]*checked', ticked)) == {
        str(p.id) for p in expired
    }
    selection = re.search(r"/licenses/selection/(\d+)", confirm).group(1)
    html = post(client, f"/licenses/selection/{selection}/first").get_data(as_text=True)
    assert "Allocated 2 licenses" in html
    session.expire_all()
    holders = session.scalars(
        select(License.learner_id).where(License.order_id == order.id, License.ended_at.is_(None))
    )
    assert set(holders) == {listed[0].id, listed[1].id}
    # No seat left: Allocate N now is refused with the numbers, nothing changes.
    html = post(client, f"/licenses/selection/{selection}/first").get_data(as_text=True)
    assert "already" in html or "No seats are free" in html


def test_someone_renewed_meanwhile_is_named_and_the_remainder_confirmed(tree, as_user, session):
    expired = factories.expired_people(tree.customer, 3)
    factories.assigned_order(tree.customer, 10)
    session.commit()
    client = as_user(tree.users["customer"])
    everybody = staged(client, "/licenses/expired/select-all")
    one = staged(
        client, "/licenses/expired/action_post", {"action": "allocate", "rowid": [expired[1].id]}
    )
    assert "Allocated 1 license;" in post(client, one).get_data(as_text=True)
    html = post(client, everybody).get_data(as_text=True)
    assert f"{expired[1].full_name} already has an active license now" in html
    html = post(client, everybody + "/remainder").get_data(as_text=True)
    assert re.search(r'data-plan="size">2<', html)


def test_deallocate_from_the_allocated_tab(tree, as_user, session):
    factories.assigned_order(tree.customer, 5)
    (holder,) = factories.learners(tree.customer, 1)
    session.commit()
    client = as_user(tree.users["customer"])
    html = post(
        client, "/licenses/allocated/action_post", {"action": "deallocate", "rowid": [holder.id]}
    ).get_data(as_text=True)
    assert "1 seat returned to their orders." in html
    session.expire_all()
    assert session.get(Learner, holder.id).license_expires_at is None


def test_deallocate_of_a_company_below_outside_manage_mode_is_not_found(tree, as_user, session):
    """The license tabs are the company in view's: a partner deallocates a customer's
    learner only through Manage Company, as Allocate does."""
    factories.assigned_order(tree.customer, 5)
    (holder,) = factories.learners(tree.customer, 1)
    session.commit()
    client = as_user(tree.users["partner"])
    single = client.post(
        f"/licenses/allocated/action/deallocate/{holder.id}", data={"csrf_token": client.csrf}
    )
    bulk = client.post(
        "/licenses/allocated/action_post",
        data={"action": "deallocate", "rowid": [holder.id], "csrf_token": client.csrf},
    )
    assert (single.status_code, bulk.status_code) == (404, 404)
    session.expire_all()
    assert session.get(Learner, holder.id).license_expires_at is not None
    managing(client, tree.customer)
    html = post(
        client, "/licenses/allocated/action_post", {"action": "deallocate", "rowid": [holder.id]}
    ).get_data(as_text=True)
    assert "1 seat returned to their orders." in html


def test_company_list_and_dashboard_show_the_seat_position(tree, as_user, session):
    factories.expired_people(tree.customer, 2)
    factories.assigned_order(tree.sub_customer, 7)
    now = clock.now()
    # Expiring: within 30 days, the window's last instant included; a day later is not.
    factories.licenses_expiring(tree.sub_customer, 2, now + timedelta(days=30))
    factories.licenses_expiring(tree.sub_customer, 1, now + timedelta(days=31))
    session.commit()
    client = as_user(tree.users["partner"])
    html = client.get("/companies/list/").get_data(as_text=True)
    row = re.search(r">Customer C2</a></td>(.*?)</tr>", html, re.S).group(1)
    # Learners (3 of the tree and 3 new), free, expiring, expired.
    assert [int(x) for x in re.findall(r"<td>\s*(\d+)\s*</td>", row)][-4:] == [6, 7, 2, 0]
    assert "Premium" in row
    row = re.search(r">Customer C1</a></td>(.*?)</tr>", html, re.S).group(1)
    assert [int(x) for x in re.findall(r"<td>\s*(\d+)\s*</td>", row)][-3:] == [0, 0, 2]
    dashboard = client.get("/").get_data(as_text=True)
    assert seats(dashboard)["free"] == 7 and seats(dashboard)["expired"] == 2


def test_foreign_selections_are_not_found(tree, as_user, session):
    factories.expired_people(tree.other_customer, 2)
    session.commit()
    foreign = staged(as_user(tree.users["other_customer"]), "/licenses/expired/select-all")
    client = as_user(tree.users["customer"])
    assert client.get(foreign).status_code == 404
    assert post(client, foreign).status_code == 404
    assert post(client, foreign + "/remainder").status_code == 404


def test_an_empty_department_or_requester_reads_as_a_dash_not_none(tree, as_user, session):
    (person,) = factories.expired_people(tree.customer, 1)
    person.department = None
    order = factories.assigned_order(tree.customer, 5)  # made by the vendor: nobody requested it
    session.commit()
    client = as_user(tree.users["customer"])
    html = client.get("/licenses/expired/list/").get_data(as_text=True)
    row = html[html.index(person.email) :].split("</tr>")[0]
    assert "—" in row and "None" not in row
    html = client.get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "None" not in html
    html = as_user(tree.users["partner"]).get("/companies/list/").get_data(as_text=True)
    partner_row = html[html.index(f">{tree.partner.name}<") :].split("</tr>")[0]
    assert "None" not in partner_row


def renewal_orders(session):
    from app.models import Order

    session.expire_all()
    return session.scalars(select(Order).where(Order.renewal)).all()


def test_request_renewal_for_all_the_filter_matches_then_confirm(tree, as_user, session):
    from datetime import timedelta

    from app import clock

    expired = factories.expired_people(tree.customer, 30)
    session.commit()
    client = as_user(tree.users["customer"])
    page = client.get("/licenses/expired/list/?psize_ExpiredView=10").get_data(as_text=True)
    assert "Request renewal for these 30 people" in page
    target = expired[3]
    html = post(
        client, f"/licenses/expired/request-renewal-all?_flt_0_email={target.email}"
    ).get_data(as_text=True)
    assert "Request renewal for these <strong>1 person</strong>" in html
    assert "and assign now" not in html  # a customer's manager assigns nothing
    confirm = staged(client, "/licenses/expired/request-renewal-all?psize_ExpiredView=10")
    assert post(client, confirm).status_code == 200
    (order,) = renewal_orders(session)
    assert (order.quantity, order.company_id, order.status) == (30, tree.customer.id, "requested")
    shown = client.get(f"/orders/show/{order.id}").get_data(as_text=True)
    assert "The people this renewal is for (first 20 of 30)" in shown
    assert "Waiting for assignment" in shown
    # A second confirmation of the same choice requests nothing more.
    html = post(client, confirm).get_data(as_text=True)
    assert "This renewal was requested before" in html and len(renewal_orders(session)) == 1
    # Expiring: ticked people, by the action; those already requested are left out.
    _, soon = factories.licenses_expiring(tree.customer, 3, clock.now() + timedelta(days=9))
    session.commit()
    page = client.get("/licenses/expiring/list/").get_data(as_text=True)
    assert "Request renewal for these 3 people" in page
    rowids = [soon[0].id, soon[1].id]
    confirm = staged(
        client, "/licenses/expiring/action_post", {"action": "request_renewal", "rowid": rowids}
    )
    html = client.get(confirm).get_data(as_text=True)
    assert "Request renewal for these <strong>2 people</strong>" in html
    post(client, confirm)
    assert sorted(o.quantity for o in renewal_orders(session)) == [2, 30]


def test_an_account_manager_above_may_request_and_assign_now(tree, as_user, session):
    factories.expired_people(tree.customer, 4)
    session.commit()
    client = managing(as_user(tree.users["partner"]), tree.customer)
    confirm = staged(client, "/licenses/expired/request-renewal-all")
    html = client.get(confirm).get_data(as_text=True)
    assert "and assign now" in html
    html = post(client, confirm, {"assign_now": "y"}).get_data(as_text=True)
    assert "Assigned now" in html and "4 people licensed" in html
    (order,) = renewal_orders(session)
    assert (order.status, order.allocated) == ("assigned", 4)


def test_request_renewal_refuses_people_of_another_company(tree, as_user, session):
    theirs = factories.expired_people(tree.sub_customer, 2)
    session.commit()
    client = as_user(tree.users["customer"])
    response = client.post(
        "/licenses/expired/action_post",
        data={"action": "request_renewal", "rowid": [theirs[0].id], "csrf_token": client.csrf},
    )
    assert response.status_code == 404 and not renewal_orders(session)


def test_the_tabs_show_and_filter_by_type(tree, as_user, session):
    from app.services.orders import assign_orders, request_order
    from app.tenancy import system_actor

    partner = tree.partner
    partner.auto_license = False
    staff = factories.learners(partner, 3)
    actor = tree.actor("partner")
    nfr = request_order(actor, partner.id, 5, "nfr")
    assign_orders(system_actor("cli"), [nfr.id])
    premium = factories.assigned_order(partner, 5)
    from app.services.allocation import allocate, select_people

    allocate(actor, select_people(actor, partner.id, [staff[0].id]).id, nfr.id)
    allocate(actor, select_people(actor, partner.id, [staff[1].id]).id, premium.id)
    session.commit()
    client = as_user(tree.users["partner"])
    html = client.get("/licenses/allocated/list/").get_data(as_text=True)
    assert "<th>Type</th>" in html or ">Type<" in html
    only_nfr = client.get("/licenses/allocated/list/?_flt_0_license_type=nfr")
    assert emails_on(only_nfr.get_data(as_text=True)) == {staff[0].email}
    pools_page = client.get("/licenses/available/list/").get_data(as_text=True)
    assert "<td>NFR</td>" in pools_page and "<td>Premium</td>" in pools_page
    # The seat position, per type: assigned and free.
    assert 'data-seat-types="assigned">Premium 5 · NFR 5<' in pools_page
    assert 'data-seat-types="free">Premium 4 · NFR 4<' in pools_page
