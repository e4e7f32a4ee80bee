"""Manage Company mode: an account manager works in a company's own screens."""

import re

from sqlalchemy import select

from app.models import AuditEvent, Company, Learner, Order
from app.services.companies import move_company
from app.services.managers import set_managers_active
from app.tenancy import system_actor

MANAGING = "managing_company_id"


def post(client, url, data=None):
    return client.post(url, data={**(data or {}), "csrf_token": client.csrf}, follow_redirects=True)


def enter(client, company):
    return post(client, "/companies/action_post", {"action": "manage", "rowid": [company.id]})


def test_manage_company_from_the_actions_menu_shows_the_banner(tree, as_user):
    client = as_user(tree.users["partner"])
    page = enter(client, tree.customer).get_data(as_text=True)
    assert "Admin Dashboard" in page and "You are managing Customer C1." in page
    banner = re.search(r'class="alert alert-info manage-banner".*?</div>', page, re.S).group(0)
    assert "Customer C1" in banner and "Partner P" in banner and "Exit Manager Mode" in banner
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", banner)).strip()
    assert "on behalf of Partner P." in words and " ." not in words  # no stray space
    with client.session_transaction() as sess:
        assert sess[MANAGING] == tree.customer.id


def test_every_company_screen_shows_only_the_managed_company(tree, as_user, session):
    client = as_user(tree.users["partner"])
    enter(client, tree.customer)
    learners = client.get("/learners/list/?psize_LearnerView=100").get_data(as_text=True)
    own = {p.email for p in tree.people[tree.customer.name]}
    shown = set(re.findall(r"<td>([^<@]+@[^<]+)</td>", learners))
    assert shown == own
    users = client.get("/managers/list/").get_data(as_text=True)
    assert "customer_cm" in users and "partner_am" not in users
    dashboard = client.get("/").get_data(as_text=True)
    assert re.findall(r'data-count="(\w+)"[^>]*>(\d+)<', dashboard) == [("learners", "3")]
    assert 'href="/companies/list/"' not in dashboard.split("list-group", 1)[1]
    # The Company tree stays the partner's screen.
    companies = client.get("/companies/list/").get_data(as_text=True)
    assert "Customer C2" in companies and "Sub S" in companies


def test_the_guides_round_trip_request_exit_assign_reenter(tree, as_user, session):
    client = as_user(tree.users["partner"])
    enter(client, tree.customer)
    page = post(client, "/orders/request", {"quantity": "40"}).get_data(as_text=True)
    assert "Requested 40 Premium licenses" in page
    order = session.scalar(select(Order))
    assert (
        order.company_id == tree.customer.id and order.requested_by_id == tree.users["partner"].id
    )
    orders = client.get("/orders/list/").get_data(as_text=True)
    assert f'data-pk="{order.id}"' in orders and ">Assign<" not in orders  # not in manage mode
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.requested"))
    assert (event.on_behalf_of_id, event.company_id) == (tree.customer.id, tree.customer.id)

    page = post(client, "/manage/exit").get_data(as_text=True)
    assert "manage-banner" not in page and "You left Manager Mode." in page
    page = post(client, "/orders/assign", {"order": order.id}).get_data(as_text=True)
    assert f"Assigned 1 order: #{order.id}" in page
    enter(client, tree.customer)
    assert "manage-banner" in client.get("/orders/list/").get_data(as_text=True)
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.action.like("manage_mode.%"))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["manage_mode.entered", "manage_mode.left", "manage_mode.entered"]


def test_a_customer_manager_can_never_enter_manage_mode(tree, as_user):
    client = as_user(tree.users["customer"])
    assert enter(client, tree.customer).status_code == 403
    with client.session_transaction() as sess:
        assert MANAGING not in sess


def test_a_company_outside_the_subtree_cannot_be_managed(tree, as_user):
    client = as_user(tree.users["sub"])
    assert enter(client, tree.customer).status_code == 404
    page = enter(client, tree.sub).get_data(as_text=True)
    assert "This is your own company" in page


def test_several_companies_at_once_is_refused_on_the_list(tree, as_user):
    client = as_user(tree.users["partner"])
    response = client.post(
        "/companies/action_post",
        data={
            "action": "manage",
            "rowid": [tree.customer.id, tree.sub.id],
            "csrf_token": client.csrf,
        },
        headers={"Referer": "http://localhost/companies/list/?_flt_0_name=C"},
        follow_redirects=True,
    )
    assert response.status_code == 200 and "Choose one company" in response.get_data(as_text=True)
    assert response.request.full_path == "/companies/list/?_flt_0_name=C"  # its filter kept
    with client.session_transaction() as sess:
        assert MANAGING not in sess


def test_an_edited_session_company_outside_the_subtree_ends_manage_mode(tree, as_user):
    client = as_user(tree.users["partner"])
    with client.session_transaction() as sess:
        sess[MANAGING] = tree.other_customer.id
    page = client.get("/learners/list/", follow_redirects=True).get_data(as_text=True)
    assert "Manager Mode ended: that company is no longer in your companies." in page
    assert "Customer C3" not in page and "manage-banner" not in page
    with client.session_transaction() as sess:
        assert MANAGING not in sess


def test_a_company_moved_away_mid_session_ends_manage_mode(tree, as_user, session):
    client = as_user(tree.users["sub"])
    enter(client, tree.sub_customer)
    move_company(tree.actor("partner"), tree.sub_customer.id, tree.partner.id)
    session.commit()
    page = client.get("/learners/list/").get_data(as_text=True)
    assert "Manager Mode ended" in page
    assert not any(p.email in page for p in tree.people[tree.sub_customer.name])


def test_a_deactivated_manager_is_out_of_manage_mode(tree, as_user, session):
    client = as_user(tree.users["sub"])
    enter(client, tree.sub_customer)
    set_managers_active(system_actor("cli"), [tree.users["sub"].id], False)
    session.commit()
    response = client.get("/learners/list/")
    assert response.status_code in (302, 403)
    with client.session_transaction() as sess:
        assert MANAGING not in sess


def test_changes_in_manage_mode_are_audited_on_behalf_of_the_company(tree, as_user, session):
    client = as_user(tree.users["partner"])
    enter(client, tree.sub_customer)
    post(
        client,
        "/learners/add",
        {
            "company": tree.sub_customer.id,
            "email": "new@c2.example.com",
            "first_name": "New",
            "last_name": "Person",
        },
    )
    learner = session.scalar(select(Learner).where(Learner.email == "new@c2.example.com"))
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "learner.added", AuditEvent.entity_id == learner.id
        )
    )
    assert event.actor_id == tree.users["partner"].id
    assert (event.company_id, event.on_behalf_of_id, event.interface) == (
        tree.sub_customer.id,
        tree.sub_customer.id,
        "web",
    )
    assert event.after["email"] == "new@c2.example.com"


def test_the_learner_form_offers_only_the_managed_company(tree, as_user):
    client = as_user(tree.users["partner"])
    enter(client, tree.customer)
    form = client.get("/learners/add").get_data(as_text=True)
    options = re.findall(r'<option[^>]*value="(\d+)"', form)
    assert options == [str(tree.customer.id)]


def test_manage_company_is_on_each_rows_menu(tree, as_user):
    html = as_user(tree.users["partner"]).get("/companies/list/").get_data(as_text=True)
    assert f'action="/companies/action/manage/{tree.customer.id}"' in html
    assert f'action="/companies/action/manage/{tree.partner.id}"' not in html  # own company


def test_the_admin_can_manage_any_company(tree, as_user, session):
    client = as_user(tree.users["admin"])
    page = enter(client, tree.other_customer).get_data(as_text=True)
    assert "You are managing Customer C3." in page
    assert "on behalf of" in page and "the platform" in page
    assert session.get(Company, tree.other_customer.id) is not None
