"""Managers: the users who log in, each tied to a company.

A manager's role follows its company's kind (Account Manager for a partner or
sub-partner, Customer Manager for a customer): nobody picks roles here, so no
manager can raise its own or anyone's privileges.
"""

from __future__ import annotations

from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import exists, func, or_, select

from app import clock
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import AppUser, Company, CompanyKind
from app.roles import ROLE_ACCOUNT_MANAGER, ROLE_ADMIN, ROLE_CUSTOMER_MANAGER
from app.services import audit, passwords, sessions
from app.services.validation import email_address, required_text
from app.tenancy import Actor, get_many_scoped, get_scoped, require_company

AUDITED = ("username", "first_name", "last_name", "email", "active")


def role_for(company: Company) -> str:
    if company.kind_enum is CompanyKind.CUSTOMER:
        return ROLE_CUSTOMER_MANAGER
    return ROLE_ACCOUNT_MANAGER


def create_manager(
    actor: Actor,
    company_id: int | None,
    *,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    password: str,
) -> AppUser:
    """Create a manager of a company the actor may act on. Raises Invalid or NotFound."""
    if company_id is None:
        raise Invalid("Choose the company the manager belongs to.", "company")
    company = require_company(actor, company_id)
    return _new_user(
        actor,
        company,
        role_for(company),
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        password=password,
    )


def create_platform_admin(
    actor: Actor, *, username: str, first_name: str, last_name: str, email: str, password: str
) -> AppUser:
    """A platform admin (no company). Only the platform (admin, CLI) may create one."""
    if not actor.is_admin:
        raise Forbidden("Only the platform admin can create platform admins.")
    return _new_user(
        actor,
        None,
        ROLE_ADMIN,
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        password=password,
    )


def platform_admins_query():
    """The platform admins: active users with the Admin role."""
    return select(AppUser).where(AppUser.active, AppUser.roles.any(Role.name == ROLE_ADMIN))


def has_platform_admin() -> bool:
    return db.session.scalar(platform_admins_query().limit(1)) is not None


def _new_user(
    actor: Actor,
    company: Company | None,
    role: str,
    *,
    username,
    first_name,
    last_name,
    email,
    password,
):
    username = required_text(username, "username", "Username", 64)
    address = email_address(email)
    _check_unique(username, address)
    stamp = clock.now().replace(tzinfo=None)
    user = AppUser(
        company_id=company.id if company else None,
        username=username,
        first_name=required_text(first_name, "first_name", "First name", 64),
        last_name=required_text(last_name, "last_name", "Last name", 64),
        email=address,
        active=True,
        password=passwords.hash_password(password, username=username, email=address),
        created_on=stamp,
        changed_on=stamp,
    )
    user.roles = [_role(role)]
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor,
        "manager.created",
        company_id=user.company_id,
        entity="user",
        entity_id=user.id,
        after={**audit.values(user, AUDITED), "role": role},
    )
    return user


def update_manager(
    actor: Actor, user_id: int, *, first_name: str, last_name: str, email: str
) -> AppUser:
    user = get_scoped(actor, AppUser, user_id)
    before = audit.values(user, AUDITED)
    address = email_address(email)
    if address != user.email:
        _check_unique(None, address)
    user.first_name = required_text(first_name, "first_name", "First name", 64)
    user.last_name = required_text(last_name, "last_name", "Last name", 64)
    user.email = address
    user.changed_on = clock.now().replace(tzinfo=None)
    db.session.flush()
    audit.record_change(actor, "manager.changed", user, AUDITED, before, entity="user")
    return user


def set_managers_active(actor: Actor, user_ids: list[int], active: bool) -> int:
    """Deactivate (or reactivate) managers, all or none; never the actor itself. A
    deactivated manager's browsers are signed out at once."""
    users = get_many_scoped(actor, AppUser, user_ids)
    if not active and any(u.id == actor.user_id for u in users):
        raise Forbidden("You cannot deactivate yourself.")
    audit.set_active(actor, users, active, noun="manager", entity="user")
    if not active:
        sessions.end_all([u.id for u in users], sessions.DEACTIVATED)
    db.session.flush()
    return len(users)


def _role(name: str) -> Role:
    role = db.session.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise RuntimeError(f"role {name!r} is missing: run the migrations")
    return role


def _check_unique(username: str | None, address: str) -> None:
    conditions = [func.lower(AppUser.email) == address]
    if username is not None:
        conditions.append(func.lower(AppUser.username) == username.lower())
    if db.session.scalar(select(exists().where(or_(*conditions)))):
        raise Invalid("That username or email is already used by another user.", "email")
