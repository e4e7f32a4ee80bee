"""Free Trials (issue 18): started by the account managers above a customer, once;
its people licensed as they are added; upgraded by assigning a paid order (people
moved by last name, as far as the seats go, the overflow keeping their trial to its
end); the Upgrade Now link (opening it changes nothing; one request per link); and
people moved between Premium and Managed seats the same way."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.errors import Conflict, Forbidden, Invalid
from app.models import AuditEvent, Company, Learner, License, Order
from app.services import companies, licenses, pools, trials
from app.services.allocation import allocate, select_people
from app.services.learners import add_learner
from app.services.orders import assign_orders, request_order
from app.tenancy import system_actor
from tests import factories


def people(session, company):
    """{last name: (type, expiry)} of the company's people."""
    rows = session.execute(
        select(Learner.last_name, Learner.license_type, Learner.license_expires_at).where(
            Learner.company_id == company.id
        )
    )
    return {name: (kind, expires) for name, kind, expires in rows}


def add(company, *last_names):
    return [
        add_learner(
            system_actor("cli"),
            company.id,
            email=f"{name.lower()}@{company.name.lower().replace(' ', '')}.example.com",
            first_name="Pat",
            last_name=name,
        )
        for name in last_names
    ]


def premium_request(company, quantity, license_type="premium"):
    return request_order(factories.replace_actor_in(company), company.id, quantity, license_type)


@pytest.fixture
def fresh(tree, session):
    """A customer with no learners yet, under the partner, not licensing automatically."""
    company = companies.create_company(
        tree.actor("partner"),
        name="Trial Co",
        kind="customer",
        parent_id=tree.partner.id,
        auto_license=False,
    )
    factories.manager(company, "trial_cm")
    return company


def test_a_trial_licenses_people_as_they_are_added_whatever_the_setting(tree, fresh, session):
    trial = trials.start_trial(tree.actor("partner"), fresh.id, "3")
    assert (trial.license_type, trial.quantity, trial.status_label) == ("trial", 3, "Assigned")
    assert trial.expires_at - trial.assigned_at == timedelta(days=30)
    add(fresh, "Adams", "Baker", "Clark", "Davis")
    held = people(session, fresh)
    assert [held[n][0] for n in ("Adams", "Baker", "Clark")] == ["trial"] * 3
    assert held["Davis"] == (None, None)  # the trial is full; auto-licensing is off
    assert pools.plan_label(_plan(session, fresh)) == "Free Trial"


def test_starting_a_trial_licenses_the_people_already_there_by_last_name(tree, fresh, session):
    add(fresh, "Young", "Adams", "Moore")
    trials.start_trial(tree.actor("partner"), fresh.id, 2)
    held = people(session, fresh)
    assert (held["Adams"][0], held["Moore"][0], held["Young"][0]) == ("trial", "trial", None)


def test_one_trial_per_company_started_only_from_above(tree, fresh, session):
    with pytest.raises(Forbidden):
        trials.start_trial(tree.actor("customer"), tree.customer.id, 5)
    managing = replace(tree.actor("partner"), managing_company_id=fresh.id)
    with pytest.raises(Forbidden, match="account managers above"):
        trials.start_trial(managing, fresh.id, 5)
    with pytest.raises(Invalid, match="Free Trials are for customers"):
        trials.start_trial(tree.actor("partner"), tree.sub.id, 5)
    with pytest.raises(Invalid, match="whole number"):
        trials.start_trial(tree.actor("partner"), fresh.id, "five")
    trials.start_trial(tree.actor("partner"), fresh.id, 5)
    with pytest.raises(Invalid, match="one per company"):
        trials.start_trial(tree.actor("partner"), fresh.id, 5)
    factories.assigned_order(tree.customer, 5)
    with pytest.raises(Invalid, match="already holds paid licenses"):
        trials.start_trial(tree.actor("partner"), tree.customer.id, 5)


def test_create_company_offers_a_trial_or_an_order_not_both(tree, session):
    actor = tree.actor("partner")
    with pytest.raises(Invalid, match="not both") as refused:
        companies.create_company(
            actor,
            name="Both Co",
            kind="customer",
            parent_id=tree.partner.id,
            trial_seats="5",
            order=companies.NewOrder("10", "premium", "PO-1"),
        )
    assert refused.value.field == "trial_seats"
    made = companies.create_company(
        actor, name="Trial Only", kind="customer", parent_id=tree.partner.id, trial_seats="5"
    )
    assert trials.running(made.id, clock.now()).quantity == 5


def test_assigning_premium_upgrades_the_trial_by_last_name(tree, fresh, session):
    trial = trials.start_trial(tree.actor("partner"), fresh.id, 5)
    add(fresh, "Evans", "Adams", "Clark", "Baker", "Davis")
    trial_end = trial.expires_at
    order = premium_request(fresh, 3)
    (assigned,) = assign_orders(tree.actor("partner"), [order.id])
    held = people(session, fresh)
    assert {n for n, (kind, _) in held.items() if kind == "premium"} == {"Adams", "Baker", "Clark"}
    # The overflow keeps its trial license to its original end, and is named in the log.
    assert held["Davis"] == ("trial", trial_end) and held["Evans"] == ("trial", trial_end)
    session.refresh(trial)
    assert trial.ended_at is not None and trial.status_label == "Upgraded"
    assert (trial.allocated, assigned.allocated) == (2, 3)
    ended = session.scalars(select(License.end_reason).where(License.order_id == trial.id))
    assert sorted(r or "" for r in ended) == ["", "", "upgraded", "upgraded", "upgraded"]
    assert pools.plan_label(_plan(session, fresh)) == "Premium"
    moved = session.scalar(select(AuditEvent).where(AuditEvent.action == "licenses.moved"))
    assert moved.after["moved_from"] == {"Free Trial": 3} and moved.after["trial_ended"]
    from app.models import Email

    told = session.scalar(select(Email).where(Email.kind == "order_assigned"))
    assert "3 people moved onto them at once, by last name (3 from Free Trial)" in told.body
    assert "keeping their Free Trial license to its end: Pat Davis, Pat Evans." in told.body
    # A new person now gets no trial seat (the trial ended): auto-licensing decides.
    (late,) = add(fresh, "Zed")
    assert late.license_type is None


def test_a_trial_expired_ten_days_ago_is_still_upgraded(tree, fresh, session):
    trial = trials.start_trial(tree.actor("partner"), fresh.id, 2)
    manager = factories.manager(fresh, "upgrading_cm")
    add(fresh, "Adams", "Baker")
    clock.set_offset(timedelta(days=40))
    session.commit()
    order = premium_request(fresh, 5)
    assign_orders(tree.actor("partner"), [order.id])
    held = people(session, fresh)
    assert [held[n][0] for n in ("Adams", "Baker")] == ["premium", "premium"]
    assert held["Adams"][1] > clock.now() + timedelta(days=300)
    # The expired trial reads Upgraded, and its links say so instead of asking again.
    session.refresh(trial)
    assert trial.status_label == "Upgraded"
    assert "has been upgraded" in trials.offer(trials.upgrade_token(trial, manager)).refusal


def test_a_trial_expired_over_30_days_ago_is_not_upgraded(tree, fresh, session):
    trials.start_trial(tree.actor("partner"), fresh.id, 1)
    add(fresh, "Adams")
    clock.set_offset(timedelta(days=61))
    session.commit()
    assign_orders(tree.actor("partner"), [premium_request(fresh, 5).id])
    assert people(session, fresh)["Adams"][0] == "trial"


def test_managed_seats_take_the_premium_people_and_back(tree, session):
    company = tree.customer
    order = factories.assigned_order(company, 3)
    actor = factories.replace_actor_in(company)
    ids = [p.id for p in tree.people[company.name]]
    allocate(actor, select_people(actor, company.id, ids).id, order.id)
    managed = premium_request(company, 2, "managed")
    managed.requested_by_id = None
    assign_orders(tree.actor("partner"), [managed.id])
    held = people(session, company)
    assert sorted(kind for kind, _ in held.values()) == ["managed", "managed", "premium"]
    session.refresh(order)
    assert order.allocated == 1  # the old seats returned to their pool
    assert pools.paid_type(company.id, clock.now()) == "managed"
    # A Premium order assigned to the Managed company takes its Managed people likewise.
    top_up = request_order(
        replace(tree.actor("partner"), managing_company_id=company.id), company.id, 5
    )
    assign_orders(tree.actor("partner"), [top_up.id])
    assert sorted(k for k, _ in people(session, company).values()) == ["premium"] * 3


def test_allocate_and_auto_licensing_never_draw_trial_seats_by_default(tree, fresh, session):
    trial = trials.start_trial(tree.actor("partner"), fresh.id, 5)
    (person,) = add(fresh, "Adams")
    actor = factories.replace_actor_in(fresh)
    licenses.deallocate(actor, [person.id])
    with pytest.raises(Conflict, match="free"):
        allocate(actor, select_people(actor, fresh.id, [person.id]).id)
    allocate(actor, select_people(actor, fresh.id, [person.id]).id, trial.id)  # chosen
    assert people(session, fresh)["Adams"][0] == "trial"


def test_upgrade_now_link_scanned_posted_twice_and_after_the_upgrade(tree, fresh, session):
    trial = trials.start_trial(tree.actor("partner"), fresh.id, 5)
    add(fresh, "Adams", "Baker", "Clark")
    manager = session.scalar(
        select(factories.AppUser).where(factories.AppUser.username == "trial_cm")
    )
    token = trials.upgrade_token(trial, manager)
    for _ in range(3):  # a link scanner opening it: nothing is created
        offer = trials.offer(token)
    assert (offer.company.id, offer.seats, offer.refusal) == (fresh.id, 3, None)
    assert _requests(session, fresh) == 0
    order = trials.request_upgrade(token)
    assert (order.quantity, order.license_type, order.status) == (3, "premium", "requested")
    assert order.requested_by_id == manager.id
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.requested"))
    assert event.interface == "email-link"
    with pytest.raises(Conflict, match=f"request {order.number} for 3 Premium licenses awaits"):
        trials.request_upgrade(token)
    # Another manager's link while it waits: the same clear answer, nothing created.
    other = factories.manager(fresh, "second_trial_cm")
    with pytest.raises(Conflict, match="awaits your account manager"):
        trials.request_upgrade(trials.upgrade_token(trial, other))
    assert _requests(session, fresh) == 1
    assign_orders(tree.actor("partner"), [order.id])
    assert trials.offer(token).refusal == "Trial Co has been upgraded: nothing to do."
    with pytest.raises(Conflict, match="has been upgraded"):
        trials.request_upgrade(trials.upgrade_token(trial, other))


def test_a_used_link_stays_used_after_its_request_is_declined(tree, fresh, session):
    trial = trials.start_trial(tree.actor("partner"), fresh.id, 5)
    manager = factories.manager(fresh, "another_cm")
    token = trials.upgrade_token(trial, manager)
    order = trials.request_upgrade(token)
    assert order.quantity == 1  # nobody on the trial yet: at least one seat
    from app.services.orders import decline_order

    decline_order(tree.actor("partner"), order.id, "Budget next quarter")
    with pytest.raises(Conflict, match="used already"):
        trials.request_upgrade(token)


def test_upgrade_now_links_that_offer_nothing(tree, fresh, session):
    trial = trials.start_trial(tree.actor("partner"), fresh.id, 5)
    manager = factories.manager(fresh, "late_cm")
    for forged in ("", "not-a-token", trials.upgrade_token(trial, manager)[:-2] + "xx"):
        assert trials.offer(forged).company is None
        with pytest.raises(Conflict, match="not valid"):
            trials.request_upgrade(forged)
    stranger = tree.users["other_customer"]
    with pytest.raises(Conflict, match="not valid"):
        trials.request_upgrade(trials.upgrade_token(trial, stranger))
    # A recipient deactivated since: the link names nothing any more.
    from app.services.managers import set_managers_active

    set_managers_active(tree.actor("partner"), [manager.id], False)
    assert trials.offer(trials.upgrade_token(trial, manager)).company is None
    manager = factories.manager(fresh, "later_cm")
    clock.set_offset(timedelta(days=61))
    session.commit()
    assert "has expired" in trials.offer(trials.upgrade_token(trial, manager)).refusal


def _requests(session, company) -> int:
    return session.scalar(
        select(func.count()).where(Order.company_id == company.id, Order.status == "requested")
    )


def _plan(session, company: Company):
    now = clock.now()
    return session.scalar(
        select(pools.plan_rank()).where(Order.company_id == company.id, pools.is_pool(now))
    )


def test_trial_emails_address_trial_licenses_only_once_each_with_the_upgrade_link(
    tree, fresh, session, smtp
):
    from app.jobs.emails import send_email
    from app.models import Email
    from app.services import reminders

    trial = trials.start_trial(tree.actor("partner"), fresh.id, 3)
    add(fresh, "Adams", "Baker")
    end = trial.expires_at
    # Customer C1's Premium licenses end at the same instant: the Premium steps' group.
    factories.licenses_expiring(tree.customer, 2, end)
    session.commit()

    def kinds(company):
        steps = Email.company_id == company.id, Email.group_day.is_not(None)
        return sorted(session.scalars(select(Email.kind).where(*steps)).all())

    assert reminders.plan(end - timedelta(days=3, minutes=1)) == 0
    # 3 days before: trial_cm gets the trial's step, C1's manager the Premium one.
    assert reminders.plan(end - timedelta(days=3)) == 2
    assert reminders.plan(end - timedelta(hours=71)) == 0  # once per key
    assert kinds(fresh) == ["trial_expiry"] and kinds(tree.customer) == ["expiry_reminder"]
    session.commit()
    (expiry,) = session.scalars(select(Email).where(Email.kind == "trial_expiry")).all()
    assert expiry.subject == "Security Awareness Training – Free Trial Expiry"
    # The copy the Emails page shows (other managers read it) carries no one's link.
    assert "/upgrade/" not in expiry.body and "your own Upgrade Now link" in expiry.body
    clock.set_offset(end - timedelta(days=3) + timedelta(minutes=1) - clock.real_now())
    session.commit()  # the worker sends it while the step is due
    assert send_email(expiry.id) == "sent"
    body = smtp.messages[-1].get_payload()
    assert "Adams" in body and "Baker" in body and "Upgrade Now: http" in body
    token = body.split("/upgrade/")[1].split()[0]
    assert trials.offer(token).seats == 2
    # One person moves onto Premium seats: the notice names only the other one.
    assign_orders(tree.actor("partner"), [premium_request(fresh, 1).id])
    session.commit()
    assert reminders.plan(end) == 2  # trial_cm's Free Trial Expired, C1's expiry notice
    assert reminders.plan(end + timedelta(hours=1)) == 0
    assert kinds(fresh) == ["trial_expired", "trial_expiry"]
    (expired,) = session.scalars(select(Email).where(Email.kind == "trial_expired")).all()
    assert expired.subject == "Security Awareness Training – Free Trial Expired"
    clock.set_offset(end + timedelta(minutes=1) - clock.real_now())
    session.commit()
    assert send_email(expired.id) == "sent"
    body = smtp.messages[-1].get_payload()
    assert "Baker" in body and "Adams" not in body and "1 person can no longer" in body
    # The trial was upgraded: no link that would only answer "has been upgraded".
    assert "Trial Co has upgraded from its Free Trial" in body and "/upgrade/" not in body


def test_import_learners_licenses_trial_people_whatever_the_settings(tree, fresh, session):
    import io

    from app.services import imports
    from tests.imports import corpus

    trials.start_trial(tree.actor("partner"), fresh.id, 2)
    actor = factories.replace_actor_in(fresh)
    rows = [["Email", "First name", "Last name"]] + [
        [f"p{i}@trialco.example.com", "Pat", name]
        for i, name in enumerate(("Cole", "Ames", "Bell"))
    ]
    batch = imports.upload(
        actor, fresh.id, "learners", "people.csv", io.BytesIO(corpus.csv_bytes(rows))
    )
    summary = imports.review(
        actor, batch.id, 1, {"email": 0, "first_name": 1, "last_name": 2}, auto_license=False
    )
    assert (summary.new, summary.seats_for_new, summary.free, summary.trial) == (3, 2, 2, True)
    done = imports.commit_learners(actor, batch.id)
    assert done.licensed == 2
    held = people(session, fresh)
    assert sorted(kind or "-" for kind, _ in held.values()) == ["-", "trial", "trial"]
