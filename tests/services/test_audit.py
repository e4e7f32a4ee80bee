"""The audit trail: one row per change, with actor, company, on-behalf-of,
interface and the values before and after, in the change's transaction."""

from dataclasses import replace

import pytest
from sqlalchemy import select

from app.errors import Invalid
from app.models import AuditEvent
from app.services.companies import create_company, move_company, update_company
from app.services.learners import add_learner, set_learners_active, update_learner
from app.services.managers import create_manager, set_managers_active, update_manager
from tests import factories


def last(session, action):
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    ).first()


def test_company_creation_and_moves_are_audited(tree, session):
    actor = tree.actor("partner")
    created = create_company(actor, name="New Co", kind="customer", parent_id=tree.sub.id)
    event = last(session, "company.created")
    assert (event.entity_id, event.actor_id, event.company_id) == (
        created.id,
        tree.users["partner"].id,
        created.id,
    )
    assert event.after == {
        "name": "New Co",
        "kind": "customer",
        "parent_id": tree.sub.id,
        "timezone": "UTC",
        "auto_license": True,
        "partner_handles_renewals": False,
        "send_digest": True,
    }
    move_company(actor, created.id, tree.partner.id)
    event = last(session, "company.moved")
    assert (event.before, event.after) == ({"parent": "Sub S"}, {"parent": "Partner P"})
    update_company(actor, created.id, name="Renamed Co", timezone="Europe/Paris")
    event = last(session, "company.changed")
    assert event.before["name"] == "New Co" and event.after["timezone"] == "Europe/Paris"


def test_learner_changes_are_audited_with_before_and_after(tree, session):
    actor = tree.actor("customer")
    learner = add_learner(
        actor,
        tree.customer.id,
        email="a@acme.example.com",
        first_name="Ann",
        last_name="Lee",
        department="Sales",
    )
    assert last(session, "learner.added").after["department"] == "Sales"
    update_learner(
        actor,
        learner.id,
        email="a@acme.example.com",
        first_name="Ann",
        last_name="Lee-Smith",
        department="Sales",
    )
    event = last(session, "learner.changed")
    assert (event.before["last_name"], event.after["last_name"]) == ("Lee", "Lee-Smith")
    set_learners_active(actor, [learner.id], False)
    event = last(session, "learner.deactivated")
    assert (event.before, event.after, event.entity_id) == (
        {"active": True},
        {"active": False},
        learner.id,
    )


def test_manager_changes_are_audited(tree, session):
    actor = tree.actor("partner")
    user = create_manager(
        actor,
        tree.sub.id,
        username="audited",
        first_name="A",
        last_name="M",
        email="audited@example.com",
        password="long-enough-password",
    )
    assert last(session, "manager.created").after["role"] == "Account Manager"
    update_manager(actor, user.id, first_name="Alice", last_name="M", email="audited@example.com")
    assert last(session, "manager.changed").after["first_name"] == "Alice"
    set_managers_active(actor, [user.id], False)
    assert last(session, "manager.deactivated").entity_id == user.id


def test_the_interface_and_on_behalf_of_are_recorded(tree, session):
    cli = replace(tree.actor("partner"), interface="cli", managing_company_id=tree.customer.id)
    add_learner(cli, tree.customer.id, email="b@acme.example.com", first_name="B", last_name="C")
    event = last(session, "learner.added")
    assert (event.interface, event.on_behalf_of_id) == ("cli", tree.customer.id)


def test_a_refused_change_leaves_no_audit_row(tree, session):
    before = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))
    with pytest.raises(Invalid):
        add_learner(
            tree.actor("customer"), tree.customer.id, email="bad", first_name="B", last_name="C"
        )
    assert session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc())) == before


def test_an_unchanged_save_writes_no_event(tree, session):
    learner = factories.learners(tree.customer, 1)[0]
    count = len(session.scalars(select(AuditEvent)).all())
    update_learner(
        tree.actor("customer"),
        learner.id,
        email=learner.email,
        first_name=learner.first_name,
        last_name=learner.last_name,
        department=learner.department,
    )
    assert len(session.scalars(select(AuditEvent)).all()) == count
