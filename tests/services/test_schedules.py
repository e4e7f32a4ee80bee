"""Reminder schedules (issue 19, first part): a schedule is data, inherited from the
nearest company above with one; each step is due at its instant (day steps at the
same local wall time across DST), once; a step added later applies only to due
instants after the change; a late step says the real time left."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app import clock
from app.errors import Forbidden, Invalid, NotFound
from app.models import AuditEvent, Email
from app.services import companies, orders, reminders, schedules
from tests import factories

SIX = ["before-60d", "before-30d", "before-7d", "before-72h", "after-0", "after-7d"]


def steps(*keys):
    return [(key, "company_managers") for key in keys]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def kinds(session):
    return [m.kind for m in session.scalars(select(Email).order_by(Email.id))]


def test_the_default_is_the_guides(tree, session):
    found = schedules.effective(tree.customer.id)
    assert found.keys == ["before-72h", "after-0"] and found.source is None


def test_a_schedule_is_inherited_from_the_nearest_company_above(tree, session):
    partner = tree.actor("partner")
    schedules.set_schedule(partner, tree.partner.id, steps("before-30d", "after-0"))
    # Two levels down (partner → sub → customer C2) and one (C1): the partner's.
    for company in (tree.customer, tree.sub_customer):
        found = schedules.effective(company.id)
        assert found.keys == ["before-30d", "after-0"] and found.source.id == tree.partner.id
    schedules.set_schedule(tree.actor("sub"), tree.sub.id, steps("before-7d"))
    assert schedules.effective(tree.sub_customer.id).source.id == tree.sub.id
    assert schedules.effective(tree.customer.id).source.id == tree.partner.id
    assert schedules.effective(tree.other_customer.id).source is None  # another tree
    schedules.clear_schedule(tree.actor("partner"), tree.sub.id)
    assert schedules.effective(tree.sub_customer.id).source.id == tree.partner.id
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.action.like("schedule.%"))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["schedule.set", "schedule.set", "schedule.cleared"]


def test_a_key_is_stored_in_its_one_spelling(tree, session):
    schedules.set_schedule(tree.actor("partner"), tree.partner.id, steps("before-072h", "AFTER-0"))
    assert schedules.effective(tree.customer.id).keys == ["before-72h", "after-0"]


def test_who_may_edit_which_schedule(tree, session):
    with pytest.raises(Forbidden, match="set by account managers"):
        schedules.set_schedule(tree.actor("customer"), tree.customer.id, steps("after-0"))
    with pytest.raises(NotFound):
        schedules.set_schedule(tree.actor("other_partner"), tree.customer.id, steps("after-0"))
    with pytest.raises(NotFound):  # above its own company
        schedules.set_schedule(tree.actor("sub"), tree.partner.id, steps("after-0"))
    schedules.set_schedule(tree.actor("sub"), tree.sub_customer.id, steps("after-0"))


@pytest.mark.parametrize(
    "given, message",
    [
        ([], "at least one step"),
        (steps("before-5w"), "is not a step"),
        (steps("before-0d"), "is not a step"),
        (steps("before-400d"), "is not a step"),
        (steps("before-3d", "before-72h"), "are the same step"),
        (steps("before-1d", "before-25h"), "an hour apart"),
        (steps(*[f"before-{n}d" for n in range(1, 10)]), "at most 8 steps"),
        ([("after-0", "nobody")], "the account managers above it, or both"),
    ],
)
def test_a_bad_schedule_is_refused_and_changes_nothing(tree, session, given, message):
    with pytest.raises(Invalid, match=message):
        schedules.set_schedule(tree.actor("partner"), tree.partner.id, given)
    assert schedules.effective(tree.customer.id).source is None


@pytest.mark.parametrize(
    "zone, expiry",
    [
        ("Pacific/Auckland", utc(2027, 4, 20, 21, 0)),  # after DST ends (4 Apr 2027)
        ("America/Los_Angeles", utc(2027, 3, 20, 16, 0)),  # after spring forward
        ("America/Los_Angeles", utc(2027, 11, 20, 17, 0)),  # after fall back
        ("Australia/Sydney", utc(2028, 3, 5, 1, 0)),  # 60 days before: around 29 Feb
    ],
)
def test_each_step_of_six_is_due_at_its_instant_once(tree, session, zone, expiry):
    company = tree.customer
    company.timezone = zone
    clock.set_offset(expiry - timedelta(days=100) - clock.real_now())
    schedules.set_schedule(tree.actor("partner"), tree.partner.id, steps(*SIX))
    factories.licenses_expiring(company, 2, expiry)
    session.commit()
    local = expiry.astimezone(ZoneInfo(zone))
    for key in SIX:
        offset, in_days = schedules.parse_key(key)
        if in_days:  # the same local wall time, whatever the DST
            wall = local.replace(tzinfo=None) + timedelta(days=offset.days)
            due = wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
            assert due.astimezone(ZoneInfo(zone)).hour == local.hour
        else:
            due = expiry + offset
        kind = {"before-72h": "expiry_reminder", "after-0": "expiry_notice"}.get(key, key)
        assert reminders.plan(due - timedelta(minutes=1)) == 0, key
        assert reminders.plan(due) == 1, key
        assert reminders.plan(due + timedelta(minutes=1)) == 0, key
        assert kinds(session)[-1] == kind
    assert len(kinds(session)) == 6


def test_a_step_added_later_applies_only_to_instants_after_the_change(tree, session):
    expiry = (clock.now() + timedelta(days=40)).replace(microsecond=0)
    factories.licenses_expiring(tree.customer, 1, expiry)
    partner = tree.actor("partner")
    schedules.set_schedule(partner, tree.partner.id, steps("before-30d", "after-0"))
    assert reminders.plan(expiry - timedelta(days=30)) == 1
    assert reminders.plan(expiry - timedelta(days=29)) == 0  # (remembered: quiet till expiry)
    # 20 days before: a 7-day step (its instant ahead) and a 14-day one (also ahead)
    # are added; a 25-day one too, whose instant is already past: never sent.
    clock.set_offset(expiry - timedelta(days=20) - clock.real_now())
    new = steps("before-30d", "before-25d", "before-14d", "before-7d", "after-0")
    schedules.set_schedule(partner, tree.partner.id, new)
    assert reminders.plan(expiry - timedelta(days=20)) == 0  # 25d: past its instant
    assert reminders.plan(expiry - timedelta(days=14)) == 1
    assert reminders.plan(expiry - timedelta(days=7)) == 1
    assert reminders.plan(expiry) == 1
    assert kinds(session) == ["before-30d", "before-14d", "before-7d", "expiry_notice"]


def test_a_step_missed_while_the_worker_was_down_goes_late_until_the_next(tree, session):
    expiry = (clock.now() + timedelta(days=40)).replace(microsecond=0)
    factories.licenses_expiring(tree.customer, 1, expiry)
    schedules.set_schedule(
        tree.actor("partner"), tree.partner.id, steps("before-30d", "before-7d", "after-0")
    )
    # Down from before the 30-day step until after the 7-day one: only the 7-day goes.
    assert reminders.plan(expiry - timedelta(days=6)) == 1
    assert kinds(session) == ["before-7d"]
    # The default schedule's 72-hour reminder, sent 5 hours before: it says so.
    factories.licenses_expiring(tree.other_customer, 1, expiry + timedelta(days=1))
    # (C1's on-the-day notice is due then too.)
    assert reminders.plan(expiry + timedelta(days=1) - timedelta(hours=5)) == 2
    late = session.scalar(select(Email).where(Email.kind == "expiry_reminder"))
    assert "expires in 5 hours, from" in late.body and "72 hours" not in late.body


def test_a_group_never_gets_a_step_key_twice_whatever_it_inherits(tree, session):
    expiry = (clock.now() + timedelta(days=10)).replace(microsecond=0)
    factories.licenses_expiring(tree.customer, 1, expiry)
    assert reminders.plan(expiry - timedelta(hours=72)) == 1  # the default's
    schedules.set_schedule(tree.actor("partner"), tree.customer.id, steps("before-72h", "after-0"))
    assert reminders.plan(expiry - timedelta(hours=71)) == 0
    count = session.scalar(select(func.count()).select_from(Email))
    assert count == 1


def _moved(tree, actor):
    companies.move_company(actor, tree.customer.id, tree.sub.id)  # to Sub S's schedule


def _audience(tree, actor):
    schedules.set_schedule(
        actor, tree.partner.id, [("before-30d", "both"), ("after-0", "company_managers")]
    )


def _handled(tree, actor):
    company = tree.customer
    companies.update_company(
        actor,
        company.id,
        name=company.name,
        timezone=company.timezone,
        partner_handles_renewals=True,
    )


def _cleared(tree, actor):
    schedules.clear_schedule(actor, tree.customer.id)  # to the partner's schedule


def _rezoned(tree, actor):
    company = tree.customer  # its group's local day moves to the next day
    companies.update_company(actor, company.id, name=company.name, timezone="Pacific/Auckland")


@pytest.mark.parametrize(
    "change",
    [_moved, _audience, _handled, _cleared, _rezoned],
    ids=["moved", "audience", "partner-handles", "cleared", "time-zone"],
)
def test_a_change_applies_only_to_due_instants_after_it(tree, session, change):
    """After a move, a schedule cleared, a step's audience changed, the partner
    taking over the renewals or a new time zone, a step whose instant was already
    past never goes — to anybody; the next step goes, to whom it now should."""
    expiry = (clock.now() + timedelta(days=40)).replace(hour=15, minute=0, second=0, microsecond=0)
    partner = tree.actor("partner")
    schedules.set_schedule(partner, tree.partner.id, steps("before-30d", "after-0"))
    schedules.set_schedule(partner, tree.sub.id, steps("before-25d", "after-0"))
    if change is _cleared:
        schedules.set_schedule(partner, tree.customer.id, steps("before-72h", "after-0"))
    factories.licenses_expiring(tree.customer, 1, expiry)
    session.commit()
    assert reminders.plan(expiry - timedelta(days=30)) == (0 if change is _cleared else 1)
    clock.set_offset(expiry - timedelta(days=20) - clock.real_now())
    change(tree, partner)
    session.commit()
    assert reminders.plan(expiry - timedelta(days=20)) == 0
    assert reminders.plan(expiry - timedelta(days=19)) == 0
    assert reminders.plan(expiry) == 1
    last = session.scalar(select(Email).order_by(Email.id.desc()).limit(1))
    who = "partner" if change is _handled else "customer"
    assert (last.kind, last.recipient) == ("expiry_notice", tree.users[who].email)


def test_a_step_due_before_a_change_and_not_yet_planned_goes_as_it_was_due(tree, session):
    """The notice fell due at 08:00, the planning last ran at 07:50, and at 08:01 the
    partner takes the company's renewals over: the notice still goes — to the
    company's managers, as when it fell due — and the partner gets no copy."""
    expiry = (clock.now() + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    factories.licenses_expiring(tree.customer, 1, expiry)
    session.commit()
    assert reminders.plan(expiry - timedelta(minutes=10)) == 1  # the 72-hour reminder
    clock.set_offset(expiry + timedelta(minutes=1) - clock.real_now())
    _handled(tree, tree.actor("partner"))
    session.commit()
    assert reminders.plan(expiry + timedelta(minutes=5)) == 0
    notices = session.scalars(select(Email).where(Email.kind == "expiry_notice")).all()
    assert [m.recipient for m in notices] == [tree.users["customer"].email]


def test_the_cli_shows_sets_and_clears_a_schedule(app, tree, session):
    runner = app.test_cli_runner()
    session.commit()
    shown = runner.invoke(args=["schedules", "set", str(tree.partner.id), "before-30d", "after-0"])
    assert shown.exit_code == 0, shown.output
    assert "from: Partner P" in shown.output and "30 days before" in shown.output
    inherited = runner.invoke(args=["schedules", "show", str(tree.sub_customer.id)])
    assert "from: Partner P" in inherited.output
    refused = runner.invoke(args=["schedules", "set", str(tree.partner.id), "before-1y"])
    assert refused.exit_code != 0 and "is not a step" in refused.output
    cleared = runner.invoke(args=["schedules", "clear", str(tree.partner.id)])
    assert "the platform default" in cleared.output
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "schedule.set"))
    assert event.interface == "cli" and event.after["steps"] == [
        "before-30d:company_managers",
        "after-0:company_managers",
    ]


def test_partner_side_steps_list_the_companies_once_per_manager_and_day(tree, session, smtp):
    """A 30-day step to the account managers above: one email per account manager,
    step and local day, listing its companies (each once per step and expiry day);
    a company due later that day joins the email while it waits, else the next."""
    from app.jobs.emails import send_email

    partner = tree.actor("partner")
    extra = [
        companies.create_company(
            partner, name=f"Late {n}", kind="customer", parent_id=tree.partner.id
        )
        for n in (1, 2, 3)
    ]
    schedules.set_schedule(
        partner, tree.partner.id, [("before-30d", "account_managers"), ("after-0", "both")]
    )
    base = (clock.now() + timedelta(days=40)).replace(hour=9, minute=0, second=0, microsecond=0)
    factories.licenses_expiring(tree.customer, 2, base)
    factories.licenses_expiring(tree.sub_customer, 1, base)  # its nearest: Sub S's manager
    factories.licenses_expiring(extra[0], 1, base + timedelta(hours=6))
    factories.licenses_expiring(extra[1], 3, base + timedelta(days=1))
    factories.licenses_expiring(extra[2], 1, base + timedelta(hours=10))
    # Customer C1's free seats and its waiting request are named on its line.
    factories.assigned_order(tree.customer, 1)
    pending = orders.request_order(tree.actor("customer"), tree.customer.id, 4)
    session.commit()
    at = base - timedelta(days=30)
    assert reminders.plan(at) == 2  # partner_am's email and sub_am's
    steps_mail = select(Email).where(Email.kind.startswith("am:"))
    mails = {m.recipient: m for m in session.scalars(steps_mail)}
    assert set(mails) == {"partner_am@managers.example.com", "sub_am@managers.example.com"}
    partner_mail = mails["partner_am@managers.example.com"]
    assert partner_mail.kind == "am:before-30d" and "Customer C1: 2 licenses" in partner_mail.body
    c1_line = next(line for line in partner_mail.body.splitlines() if "Customer C1" in line)
    assert "; 1 free seat covers 1 of them: allocate after expiry" in c1_line
    assert f"; request {pending.number} for 4 licenses awaits approval" in c1_line
    assert partner_mail.subject == "Licenses expire in 30 days: 1 of your companies"
    assert reminders.plan(at + timedelta(minutes=5)) == 0  # listed once
    # Late 1 is due 6 hours later the same day: it joins the email still waiting.
    assert reminders.plan(at + timedelta(hours=6)) == 0
    session.refresh(partner_mail)
    assert (
        "Late 1: 1 license" in partner_mail.body and "2 of your companies" in partner_mail.subject
    )
    assert send_email(partner_mail.id) == "sent"
    assert "Customer C1" in smtp.messages[-1].get_content()
    # Late 3 is due after today's went out: it waits in tomorrow's, held till then.
    assert reminders.plan(at + timedelta(hours=10)) == 1
    held = session.scalars(select(Email).order_by(Email.id.desc())).first()
    assert "Late 3: 1 license" in held.body and held.next_attempt_at > at + timedelta(hours=10)
    # Late 2 is due the next day: it joins that day's email, with Late 3.
    assert reminders.plan(at + timedelta(days=1)) == 0
    session.refresh(held)
    assert "Late 2: 3 licenses" in held.body and "Customer C1" not in held.body
    # The customers' managers never see the partner-side emails.
    from app.tenancy import audience

    visible = session.scalars(
        select(Email.kind).where(audience(tree.actor("customer"), Email))
    ).all()
    assert not [k for k in visible if k.startswith("am:")]


def test_a_step_held_up_past_the_next_step_is_not_sent(tree, session, smtp):
    from app.jobs.emails import send_email

    expiry = (clock.now() + timedelta(days=10)).replace(microsecond=0)
    factories.licenses_expiring(tree.customer, 1, expiry)
    assert reminders.plan(expiry - timedelta(hours=72)) == 1
    (mail,) = session.scalars(select(Email)).all()
    # The worker was away until after the licenses expired: too late to remind.
    clock.set_offset(expiry + timedelta(hours=1) - clock.real_now())
    session.commit()
    assert send_email(mail.id) == "cancelled" and smtp.messages == []
    session.refresh(mail)
    assert "its step was over" in mail.last_error
