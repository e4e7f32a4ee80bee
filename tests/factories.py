"""Factories that build whole company trees: tenancy bugs live in the tree.

    partner (P)                      other_partner (Q)
    ├── sub (S)                      └── other_customer (C3)
    │   └── sub_customer (C2)
    └── customer (C1)

Each company has a manager and learners; the users are named after their role.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from app.models import AppUser, Company, Learner
from app.services.companies import create_company
from app.services.learners import add_learner
from app.services.managers import create_manager, create_platform_admin
from app.tenancy import Actor, actor_for, system_actor

PASSWORD = "test-password-1"
_counter = itertools.count(1)


def company(parent: Company | None, kind: str, name: str | None = None, tz: str = "UTC"):
    return create_company(
        system_actor("cli"),
        name=name or f"{kind.title()} {next(_counter)}",
        kind=kind,
        parent_id=parent.id if parent else None,
        timezone=tz,
    )


def manager(of: Company, username: str | None = None) -> AppUser:
    username = username or f"user{next(_counter)}"
    return create_manager(
        system_actor("cli"),
        of.id,
        username=username,
        first_name=username.title(),
        last_name="Manager",
        email=f"{username}@managers.example.com",
        password=PASSWORD,
    )


def admin(username: str = "root") -> AppUser:
    return create_platform_admin(
        system_actor("cli"),
        username=username,
        first_name="Platform",
        last_name="Admin",
        email=f"{username}@platform.example.com",
        password=PASSWORD,
    )


def learners(of: Company, count: int, department: str | None = None) -> list[Learner]:
    return [
        add_learner(
            system_actor("cli"),
            of.id,
            email=f"person{next(_counter)}@{of.name.lower().replace(' ', '')}.example.com",
            first_name=f"First{i}",
            last_name=f"Last{i}",
            department=department,
        )
        for i in range(count)
    ]


@dataclass
class Tree:
    partner: Company
    sub: Company
    customer: Company
    sub_customer: Company
    other_partner: Company
    other_customer: Company
    users: dict[str, AppUser] = field(default_factory=dict)
    people: dict[str, list[Learner]] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        return actor_for(self.users[name])

    @property
    def companies(self) -> list[Company]:
        return [
            self.partner,
            self.sub,
            self.customer,
            self.sub_customer,
            self.other_partner,
            self.other_customer,
        ]


def build_tree(learners_per_company: int = 3) -> Tree:
    partner = company(None, "partner", "Partner P")
    sub = company(partner, "sub_partner", "Sub S")
    tree = Tree(
        partner=partner,
        sub=sub,
        customer=company(partner, "customer", "Customer C1"),
        sub_customer=company(sub, "customer", "Customer C2"),
        other_partner=company(None, "partner", "Partner Q"),
        other_customer=None,
    )
    tree.other_customer = company(tree.other_partner, "customer", "Customer C3")
    tree.users = {
        "admin": admin(),
        "partner": manager(partner, "partner_am"),
        "sub": manager(sub, "sub_am"),
        "customer": manager(tree.customer, "customer_cm"),
        "sub_customer": manager(tree.sub_customer, "sub_customer_cm"),
        "other_partner": manager(tree.other_partner, "other_am"),
        "other_customer": manager(tree.other_customer, "other_cm"),
    }
    tree.people = {
        c.name: learners(c, learners_per_company, department="Sales") for c in tree.companies
    }
    return tree


def bulk_customers(parent: Company, count: int, prefix: str = "Bulk customer") -> None:
    """`count` customers under `parent` in a few set-based statements (for scale tests)."""
    from sqlalchemy import func, insert, literal, select

    from app import clock
    from app.extensions import db
    from app.models import CompanyTree

    first = (db.session.scalar(select(func.max(Company.id))) or 0) + 1
    now = clock.now()
    db.session.execute(
        insert(Company),
        [
            {
                "id": first + i,
                "name": f"{prefix} {i:05d}",
                "kind": "customer",
                "parent_id": parent.id,
                "timezone": "UTC",
                "created_at": now,
            }
            for i in range(count)
        ],
    )
    new_ids = select(Company.id).where(Company.id >= first).subquery()
    db.session.execute(
        insert(CompanyTree).from_select(
            ["ancestor_id", "descendant_id", "depth"],
            select(new_ids.c.id, new_ids.c.id, literal(0)),
        )
    )
    db.session.execute(
        insert(CompanyTree).from_select(
            ["ancestor_id", "descendant_id", "depth"],
            select(CompanyTree.ancestor_id, new_ids.c.id, CompanyTree.depth + 1)
            .select_from(CompanyTree)
            .join(new_ids, CompanyTree.descendant_id == parent.id),
        )
    )


def assigned_order(company: Company, quantity: int):
    """An order of `quantity` seats requested by the platform for `company` (through
    Manage Company mode) and assigned now by the platform admin."""
    from app.services.orders import assign_orders, request_order

    order = request_order(replace_actor_in(company), company.id, quantity)
    (assigned,) = assign_orders(system_actor("cli"), [order.id])
    return assigned


def expired_people(company: Company, count: int, months_ago: int = 13) -> list[Learner]:
    """`count` learners whose license (from an order assigned `months_ago` months ago)
    has expired: made through the services with the clock shifted back."""
    from datetime import timedelta

    from app import clock
    from app.services.allocation import allocate, select_people

    people = learners(company, count)
    saved = clock.offset()
    clock.set_offset(saved - timedelta(days=31 * months_ago))
    try:
        assigned_order(company, count)
        actor = replace_actor_in(company)
        selection = select_people(actor, company.id, [p.id for p in people])
        allocate(actor, selection.id)
    finally:
        clock.set_offset(saved)
    return people


def replace_actor_in(company: Company):
    """The platform acting in a company's own screens (Manage Company mode)."""
    from dataclasses import replace

    return replace(system_actor("cli"), managing_company_id=company.id)


def licenses_expiring(company: Company, count: int, expires_at, quantity: int | None = None):
    """`count` new learners holding licenses of an order that expires at exactly
    `expires_at` (assigned directly: the term arithmetic has its own tests)."""
    from zoneinfo import ZoneInfo

    from app import clock
    from app.extensions import db
    from app.models import Order
    from app.services.allocation import allocate, select_people

    company.auto_license = False
    people = learners(company, count)
    now = clock.now()
    order = Order(
        company_id=company.id,
        quantity=quantity or count,
        allocated=0,
        status="assigned",
        requested_at=now,
        assigned_at=now,
        expires_at=expires_at,
        expires_on=expires_at.astimezone(ZoneInfo(company.timezone)).date(),
    )
    db.session.add(order)
    db.session.flush()
    saved = clock.offset()
    if expires_at <= now:  # allocate while the order is still open
        clock.set_offset(saved - (now - expires_at) - timedelta(days=1))
    try:
        actor = replace_actor_in(company)
        allocate(actor, select_people(actor, company.id, [p.id for p in people]).id, order.id)
    finally:
        clock.set_offset(saved)
    return order, people


def insert_expired_learners(
    company_id: int, count: int, expired_at, email, last_name, department=lambda i: None
) -> None:
    """`count` active learners whose licenses expired at `expired_at`, in one
    executemany (for scale: benchmarks and the 20,000-person browser test). `email`,
    `last_name` and `department` make each person's value from its number."""
    from sqlalchemy import insert

    from app import clock
    from app.extensions import db
    from app.models import Learner

    now = clock.now()
    db.session.execute(
        insert(Learner),
        [
            {
                "company_id": company_id,
                "email": email(i),
                "first_name": "P",
                "last_name": last_name(i),
                "department": department(i),
                "active": True,
                "created_at": now,
                "license_expires_at": expired_at,
                "license_type": "premium",
            }
            for i in range(count)
        ],
    )
