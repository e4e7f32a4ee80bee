"""Seat reclaim on the screens (issue 19): any manager flags or clears people on
Learners; a learner's last-active date is edited with a clear message for a bad
one; account managers set the company's inactivity rule on Company → Edit."""

from sqlalchemy import select

from app.models import AuditEvent, Company, Learner


def test_a_customer_manager_flags_and_clears_people(tree, as_user, session):
    client = as_user(tree.users["customer"])
    people = tree.people["Customer C1"]
    page = client.post(
        "/learners/action_post",
        data={"action": "flag", "rowid": [people[0].id, people[1].id], "csrf_token": client.csrf},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Flagged 2 learners do-not-renew." in page
    client.post(
        "/learners/action_post",
        data={"action": "unflag", "rowid": [people[1].id], "csrf_token": client.csrf},
    )
    session.expire_all()
    flags = [session.get(Learner, p.id).do_not_renew for p in people]
    assert flags == [True, False, None]
    listing = client.get("/learners/list/").get_data(as_text=True)
    assert "Flagged" in listing and "Cleared" in listing
    # Someone else's people: nothing changes.
    other = tree.people["Customer C2"][0]
    response = client.post(
        "/learners/action_post",
        data={"action": "flag", "rowid": [other.id], "csrf_token": client.csrf},
    )
    assert response.status_code == 404
    session.expire_all()
    assert session.get(Learner, other.id).do_not_renew is None


def test_the_last_active_date_is_edited_and_a_bad_one_named(tree, as_user, session):
    client = as_user(tree.users["customer"])
    person = tree.people["Customer C1"][0]
    fields = {
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "csrf_token": client.csrf,
    }
    bad = client.post(f"/learners/edit/{person.id}", data={**fields, "last_active_on": "soon"})
    assert "write the last-active date as YYYY-MM-DD" in bad.get_data(as_text=True)
    client.post(f"/learners/edit/{person.id}", data={**fields, "last_active_on": "2026-06-30"})
    session.expire_all()
    assert session.get(Learner, person.id).last_active_on.isoformat() == "2026-06-30"


def test_account_managers_set_the_inactivity_rule(tree, as_user, session):
    client = as_user(tree.users["partner"])
    form = {"name": "Customer C1", "timezone": "UTC", "parent": tree.partner.id}
    client.post(
        f"/companies/edit/{tree.customer.id}",
        data={**form, "inactive_days": "90", "csrf_token": client.csrf},
    )
    session.expire_all()
    assert session.get(Company, tree.customer.id).inactive_days == 90
    bad = client.post(
        f"/companies/edit/{tree.customer.id}",
        data={**form, "inactive_days": "0", "csrf_token": client.csrf},
    ).get_data(as_text=True)
    assert "whole number of days from 1 to 3,650" in bad
    event = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "company.changed")
        .order_by(AuditEvent.id.desc())
    )
    assert event.after == {"inactive_days": 90}


def test_expired_tab_shows_filters_and_leaves_out_flagged_people(tree, as_user, session):
    """The Expired tab: a Do not renew column and filter; Select All takes the
    matching people minus the flagged ones, says both numbers, and takes them too
    when Include them is ticked."""
    from datetime import date

    from tests import factories

    expired = factories.expired_people(tree.customer, 5)
    factories.assigned_order(tree.customer, 10)
    company = session.get(Company, tree.customer.id)
    company.inactive_days = 90
    expired[0].do_not_renew = True
    expired[1].last_active_on = date(2020, 1, 1)
    expired[2].last_active_on = date(2020, 1, 1)
    expired[2].do_not_renew = False  # cleared over the rule
    session.commit()
    client = as_user(tree.users["customer"])
    page = client.get("/licenses/expired/list/?select=manual").get_data(as_text=True)
    assert "Flagged by a manager" in page and "Inactive since 2020-01-01" in page
    assert "Select All — 3 of the 5 matching the current filter" in page
    assert 'name="include_flagged"' in page
    assert "Request renewal for these 3 people" in page  # the flagged left out
    only = client.get("/licenses/expired/list/?flagged=yes").get_data(as_text=True)
    assert expired[0].email in only and expired[1].email in only
    assert expired[2].email not in only and expired[3].email not in only
    html = client.post(
        "/licenses/expired/select-all", data={"csrf_token": client.csrf}, follow_redirects=True
    ).get_data(as_text=True)
    assert 'data-plan="size">3<' in html
    html = client.post(
        "/licenses/expired/select-all",
        data={"csrf_token": client.csrf, "include_flagged": "y"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert 'data-plan="size">5<' in html
    # Only flagged people matched, none included: a clear message, nothing staged.
    html = client.post(
        "/licenses/expired/select-all?flagged=yes",
        data={"csrf_token": client.csrf},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Everybody the current filter matches is flagged do-not-renew" in html
