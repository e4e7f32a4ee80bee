"""Learners and managers, through the services."""

import pytest
from sqlalchemy import func, select

from app.errors import Forbidden, Invalid, NotFound
from app.models import AppUser, Learner
from app.roles import ROLE_ACCOUNT_MANAGER, ROLE_CUSTOMER_MANAGER
from app.services.learners import add_learner, set_learners_active, update_learner
from app.services.managers import create_manager, set_managers_active, update_manager


def test_learner_emails_are_unique_per_company_trimmed_and_case_insensitive(tree, session):
    actor = tree.actor("customer")
    add_learner(
        actor, tree.customer.id, email=" Ann.Lee@Acme.com ", first_name="Ann", last_name="Lee"
    )
    with pytest.raises(Invalid, match="already a learner"):
        add_learner(
            actor, tree.customer.id, email="ann.lee@acme.COM", first_name="A", last_name="L"
        )
    stored = session.scalar(select(Learner.email).where(Learner.first_name == "Ann"))
    assert stored == "ann.lee@acme.com"
    # The same person may be a learner of another company.
    add_learner(
        tree.actor("partner"),
        tree.sub_customer.id,
        email="ann.lee@acme.com",
        first_name="Ann",
        last_name="Lee",
    )


def test_a_bad_email_is_refused_and_nothing_is_added(tree, session):
    before = session.scalar(select(func.count()).select_from(Learner))
    with pytest.raises(Invalid, match="not a valid email"):
        add_learner(
            tree.actor("customer"),
            tree.customer.id,
            email="not-an-email",
            first_name="A",
            last_name="B",
        )
    assert session.scalar(select(func.count()).select_from(Learner)) == before


def test_a_customer_manager_cannot_touch_another_companys_learners(tree):
    foreign = tree.people[tree.sub_customer.name][0]
    with pytest.raises(NotFound):
        add_learner(
            tree.actor("customer"),
            tree.sub_customer.id,
            email="x@y.com",
            first_name="X",
            last_name="Y",
        )
    with pytest.raises(NotFound):
        update_learner(
            tree.actor("customer"),
            foreign.id,
            email="x@y.com",
            first_name="X",
            last_name="Y",
            department=None,
        )


def test_deactivating_a_batch_with_one_foreign_learner_changes_nothing(tree, session):
    own = [p.id for p in tree.people[tree.customer.name]]
    foreign = tree.people[tree.other_customer.name][0].id
    with pytest.raises(NotFound):
        set_learners_active(tree.actor("customer"), [*own, foreign], False)
    session.expire_all()
    assert all(session.get(Learner, pk).active for pk in own)
    assert set_learners_active(tree.actor("customer"), own, False) == len(own)


def test_a_managers_role_follows_its_companys_kind(tree):
    am = create_manager(
        tree.actor("partner"),
        tree.sub.id,
        username="new_am",
        first_name="N",
        last_name="A",
        email="new.am@example.com",
        password="long-enough-password",
    )
    cm = create_manager(
        tree.actor("partner"),
        tree.customer.id,
        username="new_cm",
        first_name="N",
        last_name="C",
        email="new.cm@example.com",
        password="long-enough-password",
    )
    assert am.role_names == {ROLE_ACCOUNT_MANAGER}
    assert cm.role_names == {ROLE_CUSTOMER_MANAGER}


def test_a_customer_manager_adds_managers_only_to_its_own_company(tree):
    with pytest.raises(NotFound):
        create_manager(
            tree.actor("customer"),
            tree.partner.id,
            username="sneaky",
            first_name="S",
            last_name="N",
            email="s@example.com",
            password="long-enough-password",
        )
    created = create_manager(
        tree.actor("customer"),
        tree.customer.id,
        username="colleague",
        first_name="C",
        last_name="O",
        email="c@example.com",
        password="long-enough-password",
    )
    assert created.company_id == tree.customer.id


def test_short_passwords_and_taken_usernames_are_refused(tree):
    with pytest.raises(Invalid, match="at least 15"):
        create_manager(
            tree.actor("customer"),
            tree.customer.id,
            username="shorty",
            first_name="S",
            last_name="P",
            email="sp@example.com",
            password="short",
        )
    with pytest.raises(Invalid, match="already used"):
        create_manager(
            tree.actor("customer"),
            tree.customer.id,
            username="partner_am",
            first_name="S",
            last_name="P",
            email="sp@example.com",
            password="long-enough-password",
        )


def test_a_manager_cannot_deactivate_itself_but_can_a_colleague(tree, session):
    me = tree.users["customer"]
    colleague = create_manager(
        tree.actor("customer"),
        tree.customer.id,
        username="colleague",
        first_name="C",
        last_name="O",
        email="c@example.com",
        password="long-enough-password",
    )
    with pytest.raises(Forbidden):
        set_managers_active(tree.actor("customer"), [me.id, colleague.id], False)
    assert session.get(AppUser, colleague.id).active
    set_managers_active(tree.actor("customer"), [colleague.id], False)
    assert not session.get(AppUser, colleague.id).active


def test_managers_of_other_companies_are_not_found(tree):
    with pytest.raises(NotFound):
        update_manager(
            tree.actor("customer"),
            tree.users["sub_customer"].id,
            first_name="X",
            last_name="Y",
            email="x@example.com",
        )
    with pytest.raises(NotFound):
        set_managers_active(tree.actor("sub"), [tree.users["partner"].id], False)
