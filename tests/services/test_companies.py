"""The company tree: create, move, delete — through the services."""

import pytest
from sqlalchemy import select

from app.errors import Forbidden, Invalid, NotFound
from app.models import Company, CompanyTree
from app.services.companies import create_company, delete_company, move_company
from app.tenancy import may_act_on, subtree_ids
from tests import factories


def ids_under(session, company):
    return set(session.scalars(subtree_ids(company.id)))


def test_account_manager_creates_sub_partners_and_customers_at_any_depth(tree, session):
    actor = tree.actor("partner")
    deeper = create_company(actor, name="Deep", kind="sub_partner", parent_id=tree.sub.id)
    leaf = create_company(actor, name="Leaf", kind="customer", parent_id=deeper.id)
    assert {tree.sub.id, deeper.id, leaf.id} <= ids_under(session, tree.partner)
    assert may_act_on(tree.actor("sub"), leaf.id)
    assert not may_act_on(tree.actor("other_partner"), leaf.id)


def test_only_the_platform_admin_creates_partners(tree):
    with pytest.raises(Forbidden):
        create_company(tree.actor("partner"), name="Rogue", kind="partner", parent_id=None)
    created = create_company(tree.actor("admin"), name="New MSP", kind="partner", parent_id=None)
    assert created.parent_id is None


def test_a_customer_cannot_have_companies_under_it(tree, session):
    with pytest.raises(Invalid, match="is a customer"):
        create_company(tree.actor("partner"), name="X", kind="customer", parent_id=tree.customer.id)
    assert session.scalar(select(Company).where(Company.name == "X")) is None


def test_creating_under_a_company_outside_the_subtree_is_not_found(tree):
    with pytest.raises(NotFound):
        create_company(
            tree.actor("partner"), name="X", kind="customer", parent_id=tree.other_partner.id
        )
    with pytest.raises(NotFound):
        create_company(tree.actor("sub"), name="X", kind="customer", parent_id=tree.partner.id)


def test_bad_names_and_time_zones_are_refused_with_a_message(tree):
    with pytest.raises(Invalid, match="Name is required"):
        create_company(tree.actor("partner"), name="  ", kind="customer", parent_id=tree.partner.id)
    with pytest.raises(Invalid, match="not a known time zone"):
        create_company(
            tree.actor("partner"),
            name="Y",
            kind="customer",
            parent_id=tree.partner.id,
            timezone="Mars/Olympus",
        )


def test_moving_a_subtree_moves_who_can_see_it(tree, session):
    second_sub = factories.company(tree.partner, "sub_partner", "Sub T")
    am_t = factories.manager(second_sub, "t_am")
    move_company(tree.actor("partner"), tree.sub_customer.id, second_sub.id)
    assert tree.sub_customer.id in ids_under(session, second_sub)
    assert tree.sub_customer.id not in ids_under(session, tree.sub)
    assert tree.sub_customer.id in ids_under(session, tree.partner)
    from app.tenancy import actor_for

    assert may_act_on(actor_for(am_t), tree.sub_customer.id)
    assert not may_act_on(tree.actor("sub"), tree.sub_customer.id)


def test_moving_a_sub_partner_keeps_its_whole_subtree_linked(tree, session):
    second_sub = factories.company(tree.partner, "sub_partner", "Sub T")
    move_company(tree.actor("partner"), tree.sub.id, second_sub.id)
    depth = session.scalar(
        select(CompanyTree.depth).where(
            CompanyTree.ancestor_id == tree.partner.id,
            CompanyTree.descendant_id == tree.sub_customer.id,
        )
    )
    assert depth == 3
    assert ids_under(session, second_sub) == {second_sub.id, tree.sub.id, tree.sub_customer.id}


def test_a_company_never_moves_under_its_own_descendant(tree, session):
    deeper = factories.company(tree.sub, "sub_partner", "Deeper")
    with pytest.raises(Invalid, match="inside it"):
        move_company(tree.actor("partner"), tree.sub.id, deeper.id)
    assert session.get(Company, tree.sub.id).parent_id == tree.partner.id


def test_an_account_manager_cannot_move_its_own_company_or_outside_its_tree(tree):
    elsewhere = factories.company(tree.sub, "sub_partner", "Under S")
    with pytest.raises(Forbidden):
        move_company(tree.actor("sub"), tree.sub.id, elsewhere.id)
    with pytest.raises(NotFound):
        move_company(tree.actor("partner"), tree.customer.id, tree.other_partner.id)
    with pytest.raises(NotFound):
        move_company(tree.actor("other_partner"), tree.customer.id, tree.other_partner.id)


def test_deleting_a_company_with_anything_under_it_is_refused(tree, session):
    with pytest.raises(Invalid, match=r"1 companies.*1 managers.*3 learners"):
        delete_company(tree.actor("partner"), tree.sub.id)
    assert session.get(Company, tree.sub.id) is not None


def test_deleting_an_empty_company_removes_it_and_its_tree_links(tree, session):
    empty = factories.company(tree.sub, "customer", "Empty")
    delete_company(tree.actor("partner"), empty.id)
    assert session.get(Company, empty.id) is None
    assert empty.id not in ids_under(session, tree.partner)


def test_deleting_a_company_deletes_its_uploads_and_their_reviewed_rows(tree, session):
    """import_rows has no foreign key to cascade: the deletion removes the rows of
    the company's reviewed uploads itself, and no other company's."""
    import io

    from sqlalchemy import func, select

    from app.models import ImportBatch, ImportRow
    from app.services import imports
    from tests.factories import replace_actor_in
    from tests.imports import corpus

    empty = factories.company(tree.sub, "customer", "Empty")
    rows = corpus.csv_bytes([["First", "Last", "Email"], ["A", "B", "ab@empty.example.com"]])

    def reviewed(company) -> int:
        actor = replace_actor_in(company)
        batch = imports.upload(actor, company.id, "learners", "people.csv", io.BytesIO(rows))
        imports.review(actor, batch.id, 1, {"email": 2, "first_name": 0, "last_name": 1})
        return batch.id

    theirs, others = reviewed(empty), reviewed(tree.customer)

    def staged(batch_id) -> int:
        return session.scalar(select(func.count()).where(ImportRow.batch_id == batch_id))

    assert (staged(theirs), staged(others)) == (1, 1)
    delete_company(tree.actor("partner"), empty.id)
    assert session.get(ImportBatch, theirs) is None
    assert (staged(theirs), staged(others)) == (0, 1)
