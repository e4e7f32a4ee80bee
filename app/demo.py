"""Demo data: a living tree a new user can click through right away."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AppSetting, AppUser, Company, Learner, Order
from app.services import reclaim, renewal_requests, schedules
from app.services.allocation import allocate, select_people
from app.services.companies import create_company, update_company
from app.services.learners import add_learner
from app.services.managers import create_manager, create_platform_admin
from app.services.orders import assign_orders, cancel_order, decline_order, request_order
from app.services.states import is_expired, needs_license
from app.tenancy import actor_for, system_actor

DEMO_KEY = "demo_loaded"
_DEFAULT_PASSWORD = "try-the-demo-2026"

# (name, kind, parent, time zone, learners)
COMPANIES = [
    ("Northwind MSP", "partner", None, "Europe/London", 12),
    ("Bluewave IT", "partner", None, "America/New_York", 8),
    ("Northwind West", "sub_partner", "Northwind MSP", "America/Los_Angeles", 10),
    ("Acme Dental", "customer", "Northwind MSP", "Europe/London", 80),
    ("Globex Legal", "customer", "Northwind MSP", "Europe/Dublin", 60),
    ("Initech Accounting", "customer", "Northwind West", "America/Los_Angeles", 70),
    ("Umbrella Clinics", "customer", "Northwind West", "America/Denver", 40),
    ("Hooli Retail", "customer", "Bluewave IT", "America/New_York", 40),
    # The license model's other plans: Managed, and a Free Trial ending in 3 days.
    ("Wayne Logistics", "customer", "Northwind MSP", "Europe/London", 20),
    ("Stark Fitness", "customer", "Northwind MSP", "Europe/London", 12),
]

# (username, role, company)
DEMO_USERS = [
    ("admin", "Platform admin", None),
    ("partner", "Account Manager", "Northwind MSP"),
    ("subpartner", "Account Manager", "Northwind West"),
    ("customer", "Customer Manager", "Acme Dental"),
    ("customer2", "Customer Manager", "Initech Accounting"),
    ("partner2", "Account Manager", "Bluewave IT"),
    ("trialcustomer", "Customer Manager", "Stark Fitness"),
]

FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Ella",
    "Finn",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olive",
    "Priya",
    "Quinn",
    "Ravi",
    "Sofia",
    "Theo",
]
LAST = [
    "Adams",
    "Brown",
    "Chen",
    "Davies",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jones",
    "Khan",
    "Lopez",
    "Murphy",
    "Novak",
    "Owens",
    "Patel",
    "Reyes",
    "Singh",
]
DEPARTMENTS = ["Finance", "Sales", "Support", "Operations", "HR", None]


def default_password() -> str:
    return _DEFAULT_PASSWORD


def load_demo(password: str) -> str:
    """Create the demo tree, users and learners, once and only into an empty database.
    Returns "loaded", "present" (loaded before) or "refused" (the database holds
    other data: a real install is never mixed with demo companies and logins)."""
    if AppSetting.get(DEMO_KEY):
        return "present"
    if not database_is_empty():
        return "refused"
    actor = system_actor("cli")
    ids: dict[str, int] = {}
    for name, kind, parent, zone, _ in COMPANIES:
        if name == TRIAL_COMPANY:
            continue  # started in the past (`_create_trial`)
        company = create_company(
            actor, name=name, kind=kind, parent_id=ids.get(parent), timezone=zone
        )
        ids[name] = company.id
    users = _create_users(actor, ids, password)
    _create_learners(actor, ids)
    _create_orders(users)
    _create_licenses(ids)
    _create_renewal_request(users)
    _create_license_types(users, ids, password)
    _create_reminder_settings(users, ids)
    AppSetting.put(DEMO_KEY, "1")
    return "loaded"


def database_is_empty() -> bool:
    """No company and no user yet."""
    return db.session.scalar(select(Company.id).limit(1)) is None and (
        db.session.scalar(select(AppUser.id).limit(1)) is None
    )


def _create_users(actor, ids: dict[str, int], password: str) -> dict:
    users = {}
    for username, _role, company in DEMO_USERS:
        if company is not None and company not in ids:
            continue  # made with its company (`_create_license_types`)
        email = f"{username}@demo.example"
        if company is None:
            users[username] = create_platform_admin(
                actor,
                username=username,
                first_name="Platform",
                last_name="Admin",
                email=email,
                password=password,
            )
            continue
        first, _, last = company.partition(" ")
        users[username] = create_manager(
            actor,
            ids[company],
            username=username,
            first_name=first,
            last_name=last or "Manager",
            email=email,
            password=password,
        )
    return users


def _create_learners(actor, ids: dict[str, int], only: str | None = None) -> None:
    names = itertools.cycle(itertools.product(FIRST, LAST))
    for company_name, _kind, _parent, _zone, count in COMPANIES:
        if company_name not in ids or (only and company_name != only):
            continue
        domain = company_name.lower().replace(" ", "") + ".example"
        for n in range(count):
            first, last = next(names)
            add_learner(
                actor,
                ids[company_name],
                email=f"{first}.{last}{n}@{domain}".lower(),
                first_name=first,
                last_name=last,
                department=DEPARTMENTS[n % len(DEPARTMENTS)],
            )


def _create_orders(users: dict) -> None:
    """Orders in every state, made through the services (so the outbox and the audit
    trail have them too)."""
    customer, customer2 = (actor_for(users[n], "cli") for n in ("customer", "customer2"))
    partner, subpartner = (actor_for(users[n], "cli") for n in ("partner", "subpartner"))
    assigned = request_order(customer, customer.company_in_view, 100, po_number="PO-AD-2026-114")
    assign_orders(partner, [assigned.id])
    request_order(customer, customer.company_in_view, 25)
    declined = request_order(customer2, customer2.company_in_view, 500)
    decline_order(subpartner, declined.id, "Please confirm the headcount first.")
    cancelled = request_order(customer2, customer2.company_in_view, 5)
    cancel_order(customer2, cancelled.id, "Ordered twice by mistake.")
    request_order(customer2, customer2.company_in_view, 60)
    staff = request_order(subpartner, subpartner.company_in_view, 10)
    assign_orders(partner, [staff.id])


# (company, seats, assigned how long ago, people given a seat): licenses in every
# state, dated relative to today — active, expiring within 72 hours, expiring
# today, and expired (the renewal work list).
LICENSE_HISTORY = [
    ("Acme Dental", 60, timedelta(days=20), 40),
    ("Acme Dental", 12, timedelta(days=365 - 2), 12),
    ("Acme Dental", 8, timedelta(days=365, hours=-5), 8),
    ("Acme Dental", 15, timedelta(days=365 + 30), 15),
    ("Initech Accounting", 30, timedelta(days=365 + 10), 30),
    ("Initech Accounting", 25, timedelta(days=90), 20),
    ("Globex Legal", 20, timedelta(days=365 - 1), 20),
    ("Hooli Retail", 40, timedelta(days=365 + 60), 25),
    # Later expiries, so Renewals and the months chart have a year to show.
    ("Globex Legal", 25, timedelta(days=365 - 200), 25),
    ("Umbrella Clinics", 30, timedelta(days=365 - 45), 25),
    ("Umbrella Clinics", 10, timedelta(days=365 - 150), 10),
    ("Northwind MSP", 12, timedelta(days=365 - 75), 12),
]


def _create_licenses(ids: dict[str, int]) -> None:
    """Orders assigned in the past (the clock shifted back while they are made)
    and allocated to the company's people in turn, through the services."""
    taken: dict[str, int] = {}
    saved = clock.offset()
    try:
        for name, seats, ago, people in LICENSE_HISTORY:
            company_id = ids[name]
            clock.set_offset(saved - ago)
            actor = replace(system_actor("cli"), managing_company_id=company_id)
            order = request_order(actor, company_id, seats)
            assign_orders(system_actor("cli"), [order.id])
            learner_ids = db.session.scalars(
                select(Learner.id)
                .where(Learner.company_id == company_id)
                .order_by(Learner.id)
                .offset(taken.get(name, 0))
                .limit(people)
            ).all()
            taken[name] = taken.get(name, 0) + people
            allocate(actor, select_people(actor, company_id, learner_ids).id, order.id)
    finally:
        clock.set_offset(saved)


def _create_renewal_request(users: dict) -> None:
    """Initech Accounting asks to renew exactly its people whose licenses expired
    (Expired Licenses → Request renewal for these N people), waiting for Northwind
    West to assign it."""
    customer2 = actor_for(users["customer2"], "cli")
    expired = select(Learner.id).where(
        Learner.company_id == customer2.company_id, is_expired(clock.now())
    )
    renewal_requests.request(customer2, customer2.company_id, expired)


TRIAL_COMPANY = "Stark Fitness"
TRIAL_DAYS_AGO = timedelta(days=27, hours=1)  # its Free Trial Expiry email is due


def _create_license_types(users: dict, ids: dict[str, int], password: str) -> None:
    """Every type and plan: Wayne Logistics on Managed seats (run by Northwind MSP),
    Stark Fitness three days from the end of its Free Trial (created with it, its
    people licensed as they were added), Northwind West's staff on their NFR seats;
    Bluewave IT holds only its NFR grant ("NFR only"), Hooli Retail's seats expired
    ("—")."""
    partner = actor_for(users["partner"], "cli")
    wayne = ids["Wayne Logistics"]
    managed = request_order(
        replace(partner, managing_company_id=wayne), wayne, 20, "managed", "PO-WL-0042"
    )
    assign_orders(partner, [managed.id])
    _allocate_first(wayne, 15, managed)
    saved = clock.offset()
    try:
        clock.set_offset(saved - TRIAL_DAYS_AGO)
        stark = create_company(
            partner,
            name=TRIAL_COMPANY,
            kind="customer",
            parent_id=ids["Northwind MSP"],
            timezone="Europe/London",
            auto_license=False,
            trial_seats="15",
        )
        ids[TRIAL_COMPANY] = stark.id
        create_manager(
            partner,
            stark.id,
            username="trialcustomer",
            first_name="Stark",
            last_name="Fitness",
            email="trialcustomer@demo.example",
            password=password,
        )
        _create_learners(partner, ids, only=TRIAL_COMPANY)
    finally:
        clock.set_offset(saved)
    west = ids["Northwind West"]
    grant = db.session.scalar(select(Order).where(Order.company_id == west, Order.granted))
    if grant is not None:  # NFR_GRANT_SEATS may be 0
        _allocate_first(west, 5, grant)


def _allocate_first(company_id: int, count: int, order: Order) -> None:
    """The company's first `count` people without a license take seats of `order`."""
    unlicensed = select(Learner.id).where(
        Learner.company_id == company_id, needs_license(clock.now())
    )
    actor = replace(system_actor("cli"), managing_company_id=company_id)
    people = db.session.scalars(unlicensed.order_by(Learner.id).limit(count)).all()
    allocate(actor, select_people(actor, company_id, people).id, order.id)


def _create_reminder_settings(users: dict, ids: dict[str, int]) -> None:
    """Reminder schedules as a partner shapes them: Northwind MSP's subtree gets 30
    days' notice too; Umbrella Clinics has its own (a week before, on the day, a
    week after). Northwind MSP has handled Globex Legal's renewals for a month, and renewed its 20
    people expiring tomorrow with a renewal request assigned at once — so the
    Emails page shows their 72-hour step *skipped*, with the reason."""
    partner = actor_for(users["partner"], "cli")
    subpartner = actor_for(users["subpartner"], "cli")
    audience = "company_managers"
    schedules.set_schedule(
        partner,
        ids["Northwind MSP"],
        [("before-30d", audience), ("before-72h", audience), ("after-0", audience)],
    )
    schedules.set_schedule(
        subpartner,
        ids["Umbrella Clinics"],
        [("before-7d", audience), ("after-0", audience), ("after-7d", audience)],
    )
    globex = db.session.get(Company, ids["Globex Legal"])
    # Handed to the partner a month ago: a change applies only to the steps due
    # after it (companies.reminders_since), and the 72-hour step was due two days ago.
    saved = clock.offset()
    try:
        clock.set_offset(saved - timedelta(days=30))
        update_company(
            partner,
            globex.id,
            name=globex.name,
            timezone=globex.timezone,
            partner_handles_renewals=True,
        )
    finally:
        clock.set_offset(saved)
    soon = clock.now() + timedelta(days=2)
    expiring = select(Learner.id).where(
        Learner.company_id == globex.id,
        Learner.license_expires_at > clock.now(),
        Learner.license_expires_at <= soon,
    )
    behalf = replace(partner, managing_company_id=globex.id)
    renewal_requests.request(behalf, globex.id, expiring, assign_now=True)
    _create_inactive_people(users, ids)


def _create_inactive_people(users: dict, ids: dict[str, int]) -> None:
    """Seat reclaim at Acme Dental: people inactive for 90 days are flagged
    do-not-renew; six last trained four months ago, and its manager flagged one
    more by hand."""
    acme = ids["Acme Dental"]
    reclaim.set_inactive_days(actor_for(users["partner"], "cli"), acme, 90)
    holders = db.session.scalars(
        select(Learner)
        .where(Learner.company_id == acme, Learner.license_expires_at > clock.now())
        .order_by(Learner.id)
        .limit(7)
    ).all()
    long_ago = clock.now().date() - timedelta(days=120)
    for person in holders[:6]:
        person.last_active_on = long_ago
    db.session.flush()
    reclaim.set_flag(actor_for(users["customer"], "cli"), [holders[6].id], True)
