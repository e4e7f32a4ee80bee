"""Expiry emails planned as outbox rows: one reminder 72 hours before a group's
earliest expiry, one notice at its latest, per manager, per local day — once."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.jobs.emails import send_email
from app.models import AuditEvent, Email, License
from app.models.reminder_step import EVER_BEFORE
from app.services import reminders
from app.services.allocation import allocate, select_people
from app.services.learners import set_learners_active
from tests import factories
from tests.factories import replace_actor_in


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def rows(session, kind=None):
    query = select(Email).order_by(Email.id)
    if kind:
        query = query.where(Email.kind == kind)
    return session.scalars(query).all()


@pytest.fixture
def group(tree, session):
    """Customer C1 (two managers): 3 people expiring at 10:00 and 2 at 18:00 UTC on
    the same day, from two orders."""
    factories.manager(tree.customer, "second_cm")
    first = clock.now() + timedelta(days=10)
    first = first.replace(hour=10, minute=0, second=0, microsecond=0)
    factories.licenses_expiring(tree.customer, 3, first)
    factories.licenses_expiring(tree.customer, 2, first.replace(hour=18))
    return first


def test_one_reminder_per_manager_72_hours_before_the_earliest_expiry(tree, group, session):
    assert reminders.plan(group - timedelta(hours=73)) == 0
    assert reminders.plan(group - timedelta(hours=72)) == 2
    assert reminders.plan(group - timedelta(hours=71)) == 0  # written once
    mails = rows(session, "expiry_reminder")
    assert {m.recipient for m in mails} == {
        "customer_cm@managers.example.com",
        "second_cm@managers.example.com",
    }
    assert "5 licenses for Customer C1 expire on" in mails[0].subject
    assert "/licenses/expired/list/" in mails[0].body and "/orders/request" in mails[0].body
    assert mails[0].body.count("@customerc1.example.com") == 5


def test_the_notice_waits_until_every_license_of_the_day_has_expired(tree, group, session):
    assert reminders.plan(group + timedelta(hours=1)) == 0  # 10:00 expired, 18:00 not yet
    assert rows(session, "expiry_notice") == []
    assert reminders.plan(group.replace(hour=18)) == 2
    assert reminders.plan(group.replace(hour=19)) == 0
    (notice, _) = rows(session, "expiry_notice")
    assert "expired on" in notice.subject


def test_the_notice_follows_the_licenses_taken_back_from_the_later_order(tree, group, session):
    """Nothing is due between 10:00 and 18:00 — until the 18:00 licenses are taken
    back: then the day's licenses have all expired, and the notice goes."""
    from app.models import License
    from app.services.licenses import deallocate

    assert reminders.plan(group + timedelta(hours=1)) == 0
    assert reminders.plan(group + timedelta(hours=2)) == 0  # (remembered: quiet till 18:00)
    later = session.scalars(
        select(License.learner_id).where(License.expires_at == group.replace(hour=18))
    ).all()
    assert deallocate(tree.actor("customer"), later) == 2
    session.commit()
    assert reminders.plan(group + timedelta(hours=3)) == 2
    assert "3 licenses for Customer C1 expired on" in rows(session, "expiry_notice")[0].subject


def test_a_leavers_order_does_not_hold_the_notice_back(tree, session):
    """The 18:00 order's people all deactivated: the day's licenses have all
    expired at 10:00, so the notice goes then, not at 18:00."""
    factories.licenses_expiring(tree.customer, 1, clock.now() + timedelta(days=10))
    session.flush()
    day = (clock.now() + timedelta(days=20)).replace(hour=10, minute=0, second=0, microsecond=0)
    factories.licenses_expiring(tree.customer, 2, day)
    _, leavers = factories.licenses_expiring(tree.customer, 1, day.replace(hour=18))
    set_learners_active(tree.actor("customer"), [p.id for p in leavers], False)
    session.commit()
    assert reminders.plan(day + timedelta(minutes=15)) == 1
    (notice,) = [m for m in rows(session, "expiry_notice") if m.group_day == day.date()]
    assert "2 licenses for Customer C1 expired on" in notice.subject


def test_a_manager_added_while_a_step_is_due_gets_it_too(tree, group, session):
    assert reminders.plan(group - timedelta(hours=72)) == 2
    assert reminders.plan(group - timedelta(hours=71)) == 0  # (remembered)
    factories.manager(tree.customer, "third_cm")
    session.commit()
    assert reminders.plan(group - timedelta(hours=70)) == 1
    assert "third_cm@managers.example.com" in {m.recipient for m in rows(session)}


def test_an_account_manager_added_above_between_two_runs_gets_the_step_too(tree, group, session):
    """The run after a whole run probes only what was audited since: a change in a
    company above is among it."""
    from app.services.companies import update_company

    customer = tree.customer
    update_company(
        tree.actor("partner"),
        customer.id,
        name=customer.name,
        timezone=customer.timezone,
        partner_handles_renewals=True,
    )
    session.commit()
    assert reminders.plan(group - timedelta(hours=72)) == 1
    clock.set_offset(clock.offset() + reminders.WRITE_LAG * 2)  # the toggle is old news
    session.commit()
    assert reminders.plan(group - timedelta(hours=71)) == 0
    assert remembered(session, tree.customer, group)
    factories.manager(tree.partner, "second_am")
    session.commit()
    assert reminders.plan(group - timedelta(hours=70)) == 1
    assert {m.recipient for m in rows(session, "expiry_reminder")} == {
        "partner_am@managers.example.com",
        "second_am@managers.example.com",
    }


def test_a_change_while_a_group_was_outside_the_last_runs_window_still_counts(tree, group, session):
    """A manager added after the group was remembered quiet; the next whole run
    looks at other expiry days (the group is not in its window), an hour later. The
    run after that, with the group in its window again, still finds the change."""
    clock.set_offset(clock.offset() + timedelta(hours=1))  # (as it will stay)
    session.commit()
    assert reminders.plan(group - timedelta(hours=72)) == 2
    assert reminders.plan(group - timedelta(hours=71)) == 0
    assert remembered(session, tree.customer, group)
    factories.manager(tree.customer, "third_cm")
    session.commit()
    assert reminders.plan(group - timedelta(days=20)) == 0  # other days' groups only
    assert remembered(session, tree.customer, group)  # (not looked at)
    assert reminders.plan(group - timedelta(hours=70)) == 1
    assert "third_cm@managers.example.com" in {m.recipient for m in rows(session)}


def remembered(session, company, expiry) -> bool:
    """Whether the planning remembers the group quiet (and so passes over it)."""
    from app.models import ReminderCheck

    session.expire_all()
    check = session.get(ReminderCheck, (company.id, expiry.date(), False))
    return check is not None and check.quiet_until > EVER_BEFORE  # (not marked: look again)


@pytest.fixture
def incremental(tree, session, monkeypatch):
    """The fixtures' changes made old news (audited over `WRITE_LAG` before the first
    run), and a record of how each later whole run read: the groups woken (a list)
    or its whole window (None)."""
    clock.set_offset(clock.offset() + reminders.WRITE_LAG * 2)
    session.commit()
    reads = []
    woken = reminders._woken

    def spy(*args):
        reads.append(woken(*args))
        return reads[-1]

    monkeypatch.setattr(reminders, "_woken", spy)
    return reads


def test_a_group_entering_the_window_is_read_by_the_next_run(tree, group, session, incremental):
    """The run before looked at days ending a day before the group's; the next one,
    three days before its expiry, reads only what woke — the group among it."""
    assert reminders.plan(group - timedelta(hours=98)) == 0
    assert not remembered(session, tree.customer, group)  # (outside that window)
    assert reminders.plan(group - timedelta(hours=72)) == 2
    assert incremental[-1] == [(tree.customer.id, group.date())]


def test_a_remembered_group_is_read_again_when_its_next_step_falls_due(
    tree, group, session, incremental
):
    """Quiet until the notice, with every order of its day inside the window (no run
    reads it for being new): the notice still goes, once."""
    assert reminders.plan(group - timedelta(hours=73)) == 0
    assert remembered(session, tree.customer, group)
    assert reminders.plan(group - timedelta(hours=72)) == 2
    assert reminders.plan(group - timedelta(hours=64)) == 0  # up to 18:00 in the window
    assert remembered(session, tree.customer, group)
    assert reminders.plan(group.replace(hour=18)) == 2  # the notice
    assert reminders.plan(group.replace(hour=19)) == 0
    assert [read is not None for read in incremental] == [True, True, True, True]


def test_a_group_told_is_read_again_by_the_next_run(tree, group, session, incremental):
    """Told its step (late) by the first run, with every order of its day inside
    that run's window: the next run reads it again — and remembers it quiet until
    the notice, which goes."""
    assert reminders.plan(group - timedelta(hours=64)) == 2
    assert not remembered(session, tree.customer, group)  # (marked: look again)
    assert reminders.plan(group - timedelta(hours=63)) == 0
    assert remembered(session, tree.customer, group)
    assert reminders.plan(group.replace(hour=18)) == 2  # the notice


def test_a_remembered_group_is_read_again_after_a_change_in_its_company(
    tree, group, session, incremental
):
    """A manager added between two runs (audited): the group's step goes to them."""
    assert reminders.plan(group - timedelta(hours=72)) == 2
    assert reminders.plan(group - timedelta(hours=64)) == 0  # up to 18:00 in the window
    assert remembered(session, tree.customer, group)
    factories.manager(tree.customer, "third_cm")
    session.commit()
    assert reminders.plan(group - timedelta(hours=63)) == 1
    assert "third_cm@managers.example.com" in {m.recipient for m in rows(session)}
    assert incremental[-1] == [(tree.customer.id, group.date())]


def test_old_checks_are_dropped_once_no_window_reaches_their_day(tree, group, session):
    from app.models import ReminderCheck

    assert reminders.plan(group - timedelta(hours=73)) == 0
    assert remembered(session, tree.customer, group)
    reminders.plan(group + timedelta(days=30))
    session.expire_all()
    assert session.scalars(select(ReminderCheck)).all() == []


def test_the_clock_moved_back_forgets_what_was_learnt_ahead_of_it(tree, group, session):
    """(The demo's and the tests' clock only.) Remembered an hour ahead, then the
    clock is put back and a manager added: the next run still sees the change."""
    clock.set_offset(clock.offset() + timedelta(hours=1))
    session.commit()
    assert reminders.plan(group - timedelta(hours=72)) == 2
    assert reminders.plan(group - timedelta(hours=71)) == 0
    assert remembered(session, tree.customer, group)
    clock.set_offset(clock.offset() - timedelta(hours=1))
    factories.manager(tree.customer, "third_cm")
    session.commit()
    assert reminders.plan(group - timedelta(hours=70)) == 1
    assert "third_cm@managers.example.com" in {m.recipient for m in rows(session)}


def test_after_an_outage_only_the_notice_goes(tree, group, session):
    assert reminders.plan(group + timedelta(days=1)) == 2
    assert {m.kind for m in rows(session)} >= {"expiry_notice"}
    assert rows(session, "expiry_reminder") == []


def test_renewed_people_get_no_stale_email(tree, group, session, smtp):
    reminders.plan(group - timedelta(hours=72))
    session.commit()
    people = session.scalars(select(Email)).all()
    # Everyone is renewed before the worker sends the reminder.
    order = factories.assigned_order(tree.customer, 5)
    actor = replace_actor_in(tree.customer)
    from app.models import Learner

    expiring = session.scalars(
        select(Learner.id).where(
            Learner.company_id == tree.customer.id, Learner.license_expires_at.is_not(None)
        )
    ).all()
    from app.services.licenses import deallocate

    deallocate(actor, expiring)
    allocate(actor, select_people(actor, tree.customer.id, expiring).id, order.id)
    session.commit()
    assert [send_email(m.id) for m in people] == ["cancelled", "cancelled"]
    assert smtp.messages == []
    session.expire_all()
    assert {m.state for m in rows(session, "expiry_reminder")} == {"cancelled"}


def test_the_sweep_records_each_expiry_once(tree, group, session):
    assert reminders.sweep(group + timedelta(minutes=1)) == 3
    assert reminders.sweep(group + timedelta(minutes=2)) == 0
    assert reminders.sweep(group.replace(hour=19)) == 2
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "license.expired"))
    licenses = {lic.id: lic for lic in session.scalars(select(License))}
    told = {
        event.entity_id: (
            event.after["learner_id"],
            datetime.fromisoformat(event.after["expired_at"]),
        )
        for event in events
    }
    assert len(told) == 5  # each license's own row, saying whose and when
    assert told == {i: (licenses[i].learner_id, licenses[i].expires_at) for i in told}


def test_the_daily_digest_tells_account_managers_above_only_when_there_is_news(
    tree, group, session
):
    assert reminders.digest(group - timedelta(days=5)) == 0
    assert reminders.digest(group - timedelta(hours=48)) == 1  # partner_am, above C1
    assert reminders.digest(group - timedelta(hours=47)) == 0  # once a day
    (mail,) = rows(session, "digest")
    assert mail.recipient == "partner_am@managers.example.com"
    assert "Customer C1: 5 expiring within 72 hours" in mail.body


@pytest.mark.parametrize(
    "zone, instants, groups",
    [
        # Auckland (UTC+13 in summer): 11:00 UTC and 20:00 UTC are different local days.
        ("Pacific/Auckland", [utc(2027, 1, 10, 9, 0), utc(2027, 1, 10, 12, 0)], 2),
        # Two UTC days, one Los Angeles day (UTC-8 in winter).
        ("America/Los_Angeles", [utc(2027, 1, 10, 9, 0), utc(2027, 1, 11, 6, 0)], 1),
        # Spring forward (Los Angeles, 14 March 2027): 01:30 and 03:30 local, one day.
        ("America/Los_Angeles", [utc(2027, 3, 14, 9, 30), utc(2027, 3, 14, 10, 30)], 1),
        # Fall back (Los Angeles, 7 November 2027): 01:30 twice, one day.
        ("America/Los_Angeles", [utc(2027, 11, 7, 8, 30), utc(2027, 11, 7, 9, 30)], 1),
        # A leap day in Sydney: 28 Feb 14:00 UTC is already 29 Feb there.
        ("Australia/Sydney", [utc(2028, 2, 28, 14, 0), utc(2028, 2, 28, 12, 0)], 2),
    ],
)
def test_groups_follow_the_companys_local_day(tree, session, zone, instants, groups):
    tree.customer.timezone = zone
    clock.set_offset(instants[0] - timedelta(days=20) - clock.real_now())
    for instant in instants:
        factories.licenses_expiring(tree.customer, 1, instant)
    planned = reminders.plan(max(instants) + timedelta(minutes=1))
    assert planned == groups  # one notice per group, one manager


def test_the_default_steps_keep_the_email_keys_of_before(tree, group, session):
    reminders.plan(group - timedelta(hours=72))
    reminders.plan(group.replace(hour=18))
    keys = {m.key for m in rows(session) if m.recipient_user_id == tree.users["customer"].id}
    day, company, user = group.date().isoformat(), tree.customer.id, tree.users["customer"].id
    assert keys == {
        f"expiry_reminder:company-{company}:{day}:user-{user}",
        f"expiry_notice:company-{company}:{day}:user-{user}",
    }


@pytest.mark.parametrize(
    "offset, at, due",
    [
        # Before the expiry: from its due time until the group's first expiry.
        (-72, -73, False),
        (-72, -72, True),
        (-72, -1, True),  # late after an outage, while the licenses still run
        (-72, 0, False),  # never once they expired
        # On (or after) the expiry: from the group's last expiry, for a week.
        (0, 7, False),  # the day's first licenses expired, the last not yet
        (0, 8, True),
        (0, 8 + 24 * 7 - 1, True),
        (0, 8 + 24 * 7, False),
        (24, 8 + 23, False),
        (24, 8 + 24, True),
    ],
)
def test_a_step_is_due_from_its_offset_to_its_end(offset, at, due):
    from app.models.reminder_step import Audience, Step, due_step

    step = Step("s", timedelta(hours=offset), Audience.COMPANY_MANAGERS, "t", "s", "S")
    first = utc(2026, 6, 1, 10)
    last = first + timedelta(hours=8)
    assert (due_step((step,), first, last, first + timedelta(hours=at)) is step) is due


def test_the_planning_window_covers_every_step():
    from app.models.reminder_step import Audience, Step, expiry_window

    steps = [
        Step("early", timedelta(days=-30), Audience.COMPANY_MANAGERS, "t", "s", "S"),
        Step("after", timedelta(days=2), Audience.COMPANY_MANAGERS, "t", "s", "S"),
    ]
    at = utc(2026, 6, 1)
    assert expiry_window(at, steps) == (at - timedelta(days=9), at + timedelta(days=30))


def test_a_step_with_nothing_to_do_is_recorded_skipped_with_its_reason(tree, session, smtp):
    """Everyone renewed by an assigned renewal request: the 72-hour step is recorded
    *skipped* with why, never sent."""
    from app.models import Learner
    from app.services import renewal_requests
    from app.services.orders import assign_orders

    expiry = (clock.now() + timedelta(days=10)).replace(microsecond=0)
    _, people = factories.licenses_expiring(tree.customer, 3, expiry)
    ids = select(Learner.id).where(Learner.id.in_([p.id for p in people]))
    order = renewal_requests.request(tree.actor("customer"), tree.customer.id, ids).order
    assign_orders(tree.actor("partner"), [order.id])
    session.commit()
    assert reminders.plan(expiry - timedelta(hours=72)) == 1
    (mail,) = rows(session, "expiry_reminder")
    assert mail.state == "skipped"
    assert mail.last_error.startswith("Skipped: all 3 people hold a license beyond")
    assert send_email(mail.id) == "skipped" and smtp.messages == []
    assert reminders.plan(expiry - timedelta(hours=71)) == 0  # still nothing to do
    assert rows(session, "expiry_reminder")[0].state == "skipped"


def test_a_skipped_step_goes_late_when_its_reason_goes_away(tree, session, smtp):
    """Two people renewed, the third flagged do-not-renew: skipped. Its manager
    clears the flag: 5 hours before the expiry the step goes after all, saying the
    real time left (a change in another company leaves it skipped)."""
    from app.models import Learner
    from app.services import reclaim, renewal_requests
    from app.services.orders import assign_orders

    expiry = (clock.now() + timedelta(days=10)).replace(microsecond=0)
    _, people = factories.licenses_expiring(tree.customer, 3, expiry)
    ids = select(Learner.id).where(Learner.id.in_([p.id for p in people[:2]]))
    order = renewal_requests.request(tree.actor("customer"), tree.customer.id, ids).order
    assign_orders(tree.actor("partner"), [order.id])
    reclaim.set_flag(tree.actor("customer"), [people[2].id], True)
    session.commit()
    assert reminders.plan(expiry - timedelta(hours=72)) == 1
    (mail,) = rows(session, "expiry_reminder")
    assert mail.state == "skipped" and "2 renewed and 1 flagged do-not-renew" in mail.last_error
    other = factories.learners(tree.other_customer, 1)[0]
    reclaim.set_flag(tree.actor("other_customer"), [other.id], True)
    session.commit()
    assert reminders.plan(expiry - timedelta(hours=70)) == 0  # still nothing to do
    reclaim.set_flag(tree.actor("customer"), [people[2].id], False)
    session.commit()
    assert reminders.plan(expiry - timedelta(hours=5)) == 1
    session.expire_all()
    (mail,) = rows(session, "expiry_reminder")
    assert mail.state == "pending" and mail.last_error is None
    assert "1 license for Customer C1 expires in 5 hours" in mail.body


def test_free_seats_and_waiting_requests_do_not_skip_a_step_the_email_names_them(
    tree, group, session
):
    from app.services.orders import request_order

    factories.assigned_order(tree.customer, 9)
    pending = request_order(tree.actor("customer"), tree.customer.id, 4)
    reminders.plan(group - timedelta(hours=72))
    mail = rows(session, "expiry_reminder")[0]
    assert mail.state == "pending"
    assert "9 free seats cover 5 of them" not in mail.body  # 9 seats, 5 people
    assert "9 free seats cover them: allocate after expiry." in mail.body
    assert f"Request {pending.number} for 4 licenses awaits approval." in mail.body


def test_when_the_partner_handles_renewals_its_account_managers_get_the_steps(tree, group, session):
    from app.errors import Forbidden
    from app.services.companies import update_company

    def handle(actor, company, on=True):
        update_company(
            actor,
            company.id,
            name=company.name,
            timezone=company.timezone,
            partner_handles_renewals=on,
        )

    with pytest.raises(Forbidden, match="set by the account managers above it"):
        handle(tree.actor("customer"), tree.customer)
    with pytest.raises(Forbidden):
        handle(tree.actor("sub"), tree.sub)  # its own company: not above it
    handle(tree.actor("partner"), tree.customer)
    assert reminders.plan(group - timedelta(hours=72)) == 1
    (mail,) = rows(session, "expiry_reminder")
    assert mail.recipient == "partner_am@managers.example.com"
    assert "You handle Customer C1's renewals" in mail.body
    from app.tenancy import audience

    seen = session.scalars(select(Email.id).where(audience(tree.actor("customer"), Email)))
    assert mail.id not in set(seen)  # addressed to the partner: not on C1's Emails page
    event = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "company.changed").order_by(AuditEvent.id)
    )
    assert event.after["partner_handles_renewals"] is True


def test_a_partner_may_turn_the_daily_digest_off(tree, group, session):
    from app.services.companies import update_company

    partner = tree.partner
    update_company(
        tree.actor("partner"), partner.id, name=partner.name, timezone="UTC", send_digest=False
    )
    assert reminders.digest(group - timedelta(hours=48)) == 0
    update_company(
        tree.actor("partner"), partner.id, name=partner.name, timezone="UTC", send_digest=True
    )
    assert reminders.digest(group - timedelta(hours=48)) == 1


def test_a_run_costs_the_same_statements_for_two_groups_or_ten(tree, session):
    """The planning reads and writes its groups' emails set-based (recipients, the
    keys written before, names, free seats, requests, one INSERT): telling ten
    companies takes the statements of telling two."""
    from tests.views.test_list_queries import counting_statements

    def customers_expiring(count: int, expiry) -> None:
        for _ in range(count):
            company = factories.company(tree.partner, "customer")
            factories.manager(company)
            factories.licenses_expiring(company, 2, expiry)

    def run(expiry) -> tuple[int, int]:
        # A run an hour before, when the step is not yet due: both measured runs
        # then read the groups it woke, at the same time of day.
        assert reminders.plan(expiry - timedelta(hours=73)) == 0
        with counting_statements() as statements:
            written = reminders.plan(expiry - timedelta(hours=72))
        return written, len(statements)

    soon = (clock.now() + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    later = soon + timedelta(days=20)
    customers_expiring(2, soon)
    customers_expiring(10, later)
    reminders.plan(soon - timedelta(hours=80))  # a run before: both below are later ones
    two, ten = run(soon), run(later)
    assert (two[0], ten[0]) == (2, 10)
    assert two[1] == ten[1], "statements grow with the groups told"
