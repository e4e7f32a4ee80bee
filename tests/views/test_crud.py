"""What account and customer managers do on the Company, Users and Learners screens."""

from sqlalchemy import func, select

from app.models import AppUser, Company, Learner


def post(client, url, data):
    return client.post(url, data={**data, "csrf_token": client.csrf}, follow_redirects=True)


def test_account_manager_adds_a_customer_under_its_sub_partner(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = post(
        client,
        "/companies/add",
        {
            "name": "Wayne Dental",
            "kind": "customer",
            "parent": tree.sub.id,
            "timezone": "Europe/Paris",
        },
    )
    assert "Saved." in page.get_data(as_text=True)
    created = session.scalar(select(Company).where(Company.name == "Wayne Dental"))
    assert (created.parent_id, created.timezone, created.kind) == (
        tree.sub.id,
        "Europe/Paris",
        "customer",
    )


def test_the_parent_dropdown_lists_only_the_managers_subtree(tree, as_user):
    html = as_user(tree.users["sub"]).get("/companies/add").get_data(as_text=True)
    assert "Sub S" in html and "Customer C2" in html
    assert "Partner P" not in html and "Partner Q" not in html and "Customer C1" not in html


def test_a_forged_parent_in_the_add_form_is_refused_and_nothing_is_created(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = post(
        client,
        "/companies/add",
        {"name": "Forged", "kind": "customer", "parent": tree.other_partner.id, "timezone": "UTC"},
    )
    assert page.status_code == 200
    assert "Not a valid choice" in page.get_data(as_text=True)
    assert session.scalar(select(Company).where(Company.name == "Forged")) is None


def test_moving_a_company_under_its_own_descendant_shows_the_reason(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = post(
        client,
        f"/companies/edit/{tree.sub.id}",
        {"name": "Sub S", "timezone": "UTC", "parent": tree.sub_customer.id},
    )
    html = page.get_data(as_text=True)
    assert "Not a valid choice" in html or "is a customer" in html
    session.expire_all()
    assert session.get(Company, tree.sub.id).parent_id == tree.partner.id


def test_account_manager_moves_a_customer_between_its_companies(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = post(
        client,
        f"/companies/edit/{tree.customer.id}",
        {"name": "Customer C1", "timezone": "UTC", "parent": tree.sub.id},
    )
    assert "Saved." in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Company, tree.customer.id).parent_id == tree.sub.id


def test_the_partner_takes_over_a_customers_renewals_from_the_edit_form(tree, as_user, session):
    client = as_user(tree.users["partner"])
    form = client.get(f"/companies/edit/{tree.customer.id}").get_data(as_text=True)
    assert "We handle this company&#39;s renewals" in form or "We handle this company's" in form
    page = post(
        client,
        f"/companies/edit/{tree.customer.id}",
        {
            "name": "Customer C1",
            "timezone": "UTC",
            "parent": tree.partner.id,
            "partner_handles_renewals": "y",
        },
    )
    assert "Saved." in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Company, tree.customer.id).partner_handles_renewals is True


def test_deleting_a_company_with_learners_is_refused_with_a_message(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = post(client, f"/companies/delete/{tree.customer.id}", {})
    assert "cannot be deleted while it has" in page.get_data(as_text=True)
    assert session.get(Company, tree.customer.id) is not None


def test_company_list_shows_the_subtree_with_learner_counts(tree, as_user):
    html = as_user(tree.users["sub"]).get("/companies/list/").get_data(as_text=True)
    assert "Sub S" in html and "Customer C2" in html
    # Partner P shows only as Sub S's parent, never as a row of its own.
    assert "Customer C1" not in html and "Partner Q" not in html
    assert f"/companies/show/{tree.partner.id}" not in html
    assert "Sub-partner" in html


def test_customer_manager_adds_edits_and_deactivates_its_learners(tree, as_user, session):
    client = as_user(tree.users["customer"])
    page = post(
        client,
        "/learners/add",
        {
            "company": tree.customer.id,
            "email": "New.Person@Acme.com",
            "first_name": "New",
            "last_name": "Person",
            "department": "Finance",
        },
    )
    assert "Saved." in page.get_data(as_text=True)
    learner = session.scalar(select(Learner).where(Learner.email == "new.person@acme.com"))
    assert learner.department == "Finance"
    post(
        client,
        f"/learners/edit/{learner.id}",
        {
            "email": "new.person@acme.com",
            "first_name": "Renamed",
            "last_name": "Person",
            "department": "",
        },
    )
    page = post(client, "/learners/action_post", {"action": "deactivate", "rowid": [learner.id]})
    assert "Deactivated 1 learners." in page.get_data(as_text=True)
    session.expire_all()
    learner = session.get(Learner, learner.id)
    assert (learner.first_name, learner.department, learner.active) == ("Renamed", None, False)


def test_a_duplicate_learner_email_is_a_form_error(tree, as_user, session):
    client = as_user(tree.users["customer"])
    existing = tree.people[tree.customer.name][0]
    before = session.scalar(select(func.count()).select_from(Learner))
    page = post(
        client,
        "/learners/add",
        {
            "company": tree.customer.id,
            "email": existing.email.upper(),
            "first_name": "Dup",
            "last_name": "Licate",
        },
    )
    assert "already a learner of this company" in page.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Learner)) == before


def test_customer_manager_adds_a_colleague_who_becomes_a_customer_manager(tree, as_user, session):
    client = as_user(tree.users["customer"])
    page = post(
        client,
        "/managers/add",
        {
            "company": tree.customer.id,
            "username": "colleague",
            "first_name": "Col",
            "last_name": "League",
            "email": "col@example.com",
            "password": "long-enough-password",
            "conf_password": "long-enough-password",
        },
    )
    assert "Saved." in page.get_data(as_text=True)
    user = session.scalar(select(AppUser).where(AppUser.username == "colleague"))
    assert user.company_id == tree.customer.id
    assert user.role_names == {"Customer Manager"}


def test_a_manager_without_a_company_is_named_on_the_form_not_a_404(tree, as_user, session):
    client = as_user(tree.users["partner"])
    fields = {
        "username": "nocompany",
        "first_name": "No",
        "last_name": "Company",
        "email": "no.company@example.com",
        "password": "long-enough-password",
        "conf_password": "long-enough-password",
    }
    page = post(client, "/managers/add", fields)
    assert page.status_code == 200
    assert "Choose the company the manager belongs to." in page.get_data(as_text=True)
    assert session.scalar(select(AppUser).where(AppUser.username == "nocompany")) is None


def test_users_list_shows_only_the_viewers_companies_managers(tree, as_user):
    html = as_user(tree.users["customer"]).get("/managers/list/").get_data(as_text=True)
    assert "customer_cm" in html
    assert (
        "partner_am" not in html and "sub_customer_cm" not in html and "<td>root</td>" not in html
    )
    html = as_user(tree.users["sub"]).get("/managers/list/").get_data(as_text=True)
    assert "sub_am" in html and "sub_customer_cm" in html and "<td>customer_cm</td>" not in html


def test_a_customer_manager_cannot_deactivate_itself(tree, as_user, session):
    me = tree.users["customer"]
    client = as_user(me)
    page = client.post(
        "/managers/action_post",
        data={"action": "deactivate", "rowid": [me.id], "csrf_token": client.csrf},
        headers={"Referer": "http://localhost/managers/list/?page_ManagerView=0"},
        follow_redirects=True,
    )
    assert page.status_code == 200  # back on the list it came from, with the reason
    assert page.request.full_path == "/managers/list/?page_ManagerView=0"
    assert "You cannot deactivate yourself." in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(AppUser, me.id).active


def test_the_edit_form_offers_no_role_or_company_fields(tree, as_user):
    me = tree.users["customer"]
    html = as_user(me).get(f"/managers/edit/{me.id}").get_data(as_text=True)
    assert 'name="roles"' not in html and 'name="company"' not in html


def test_posting_role_or_company_fields_to_the_edit_form_changes_neither(tree, as_user, session):
    me = tree.users["customer"]
    client = as_user(me)
    post(
        client,
        f"/managers/edit/{me.id}",
        {
            "first_name": "Me",
            "last_name": "Myself",
            "email": me.email,
            "company": tree.partner.id,
            "roles": 1,
        },
    )
    session.expire_all()
    user = session.get(AppUser, me.id)
    assert user.first_name == "Me"
    assert user.company_id == tree.customer.id and user.role_names == {"Customer Manager"}


def test_create_company_with_its_first_order_po_number_and_assign_now(tree, as_user, session):
    from app.models import AuditEvent, Order

    client = as_user(tree.users["partner"])
    form = {"kind": "customer", "parent": tree.sub.id, "timezone": "UTC"}
    page = post(client, "/companies/add", {**form, "name": "Bad Order", "quantity": "lots"})
    assert "Quantity must be a whole number" in page.get_data(as_text=True)
    assert session.scalar(select(Company).where(Company.name == "Bad Order")) is None
    page = post(client, "/companies/add", {**form, "name": "No Order", "po_number": "PO-1"})
    assert "Enter the number of licenses to order" in page.get_data(as_text=True)
    assert session.scalar(select(Company).where(Company.name == "No Order")) is None

    extra = {"quantity": "25", "license_type": "premium", "po_number": "PO-2026-7"}
    post(client, "/companies/add", {**form, "name": "Wayne Dental", **extra})
    wayne = session.scalar(select(Company).where(Company.name == "Wayne Dental"))
    (order,) = session.scalars(select(Order).where(Order.company_id == wayne.id)).all()
    assert (order.quantity, order.status, order.po_number) == (25, "requested", "PO-2026-7")
    requested = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "order.requested", AuditEvent.entity_id == order.id
        )
    )
    assert requested.on_behalf_of_id == wayne.id  # asked on the new company's behalf

    extra = {"quantity": "8", "license_type": "managed", "assign_now": "y"}
    post(client, "/companies/add", {**form, "name": "Kent Legal", **extra})
    kent = session.scalar(select(Company).where(Company.name == "Kent Legal"))
    (order,) = session.scalars(select(Order).where(Order.company_id == kent.id)).all()
    assert (order.quantity, order.status, order.license_type) == (8, "assigned", "managed")
