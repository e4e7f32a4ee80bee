"""The demo data: loaded once, a living tree a new user can click through."""

from sqlalchemy import func, select

from app.models import AppUser, Company, Learner


def counts(session):
    return [
        session.scalar(select(func.count()).select_from(m)) for m in (Company, AppUser, Learner)
    ]


def test_demo_load_is_idempotent_and_prints_the_logins(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "partner " in first.output and "customer2" in first.output
    after_first = counts(session)
    second = runner.invoke(args=["demo", "load"])
    assert "already present" in second.output
    assert counts(session) == after_first


def test_demo_tree_has_the_promised_shape(app, session):
    app.test_cli_runner().invoke(args=["demo", "load"])
    kinds = dict(session.execute(select(Company.kind, func.count()).group_by(Company.kind)).all())
    assert kinds["partner"] >= 2 and kinds["sub_partner"] >= 1 and kinds["customer"] >= 5
    assert session.scalar(select(func.count()).select_from(Learner)) >= 300
    with_department = session.scalar(
        select(func.count()).select_from(Learner).where(Learner.department.is_not(None))
    )
    assert 0 < with_department < 300
    usernames = set(session.scalars(select(AppUser.username)))
    assert {"admin", "partner", "subpartner", "customer", "customer2"} <= usernames


def test_demo_has_orders_in_every_state_with_their_emails(app, session):
    from app.models import Email, Order

    app.test_cli_runner().invoke(args=["demo", "load"])
    states = set(session.scalars(select(Order.status)))
    assert states == {"requested", "assigned", "declined", "cancelled"}
    assert session.scalar(select(func.count()).select_from(Email)) > 0


def test_demo_has_licenses_active_expiring_soon_today_and_expired(app, session):
    from datetime import timedelta

    from app import clock
    from app.models import Learner

    app.test_cli_runner().invoke(args=["demo", "load"])
    now = clock.now()
    expiries = session.scalars(
        select(Learner.license_expires_at).where(Learner.license_expires_at.is_not(None))
    ).all()
    assert any(e <= now for e in expiries)  # expired
    assert any(now < e <= now + timedelta(hours=12) for e in expiries)  # today
    assert any(now + timedelta(hours=24) < e <= now + timedelta(hours=72) for e in expiries)
    assert any(e > now + timedelta(days=300) for e in expiries)  # active for long


def test_demo_shows_every_plan_and_a_trial_about_to_end(app, session):
    from app import clock
    from app.models import Email, Order
    from app.services import pools, reminders

    app.config["NFR_GRANT_SEATS"] = 10
    try:
        app.test_cli_runner().invoke(args=["demo", "load"])
    finally:
        app.config["NFR_GRANT_SEATS"] = 0
    now = clock.now()
    plans = dict(
        session.execute(
            select(Company.name, pools.plan_rank())
            .join(Order, Order.company_id == Company.id)
            .where(pools.is_pool(now))
            .group_by(Company.name)
        ).all()
    )
    labels = {name: pools.plan_label(rank) for name, rank in plans.items()}
    assert labels["Wayne Logistics"] == "Managed" and labels["Stark Fitness"] == "Free Trial"
    assert labels["Acme Dental"] == "Premium" and labels["Bluewave IT"] == "NFR only"
    assert "Hooli Retail" not in labels  # its seats expired: "—"
    held = set(session.scalars(select(Learner.license_type).distinct()))
    assert held >= {"premium", "managed", "trial", "nfr"}
    reminders.plan(now)
    trial_mail = session.scalar(select(Email).where(Email.kind == "trial_expiry"))
    assert trial_mail.recipient == "trialcustomer@demo.example"
    assert "Upgrade Now" in trial_mail.body


def test_demo_shapes_reminders_and_shows_a_skipped_step(app, session):
    from app import clock
    from app.models import Email
    from app.services import reminders, schedules

    app.test_cli_runner().invoke(args=["demo", "load"])
    companies = {c.name: c for c in session.scalars(select(Company))}
    acme = schedules.effective(companies["Acme Dental"].id)
    assert acme.source.name == "Northwind MSP" and "before-30d" in acme.keys
    assert schedules.effective(companies["Umbrella Clinics"].id).source.name == "Umbrella Clinics"
    assert companies["Globex Legal"].partner_handles_renewals
    reminders.plan(clock.now())
    skipped = session.scalar(
        select(Email).where(Email.state == "skipped", Email.kind == "expiry_reminder")
    )
    assert skipped.company.name == "Globex Legal" and skipped.recipient == "partner@demo.example"
    assert "hold a license beyond" in skipped.last_error
    from app.services import reclaim

    acme = companies["Acme Dental"]
    flagged = session.scalars(
        select(Learner.id).where(Learner.company_id == acme.id, reclaim.flagged(acme, clock.now()))
    ).all()
    assert acme.inactive_days == 90 and len(flagged) == 7
