"""The Admin Dashboard: counts for the company in view."""

import re


def counts(html: str) -> dict[str, int]:
    return {
        k: int(v.replace(",", ""))
        for k, v in re.findall(r'data-count="(\w+)"[^>]*>([\d,]+)<', html)
    }


def test_account_manager_sees_its_subtree_counted(tree, as_user):
    html = as_user(tree.users["partner"]).get("/").get_data(as_text=True)
    # Under Partner P: Sub S, Customer C1, Customer C2; 3 learners each in P, S, C1, C2.
    assert counts(html) == {"sub_partners": 1, "customers": 2, "learners": 12}
    assert "Partner P" in html


def test_sub_partner_manager_sees_only_below_it(tree, as_user):
    html = as_user(tree.users["sub"]).get("/").get_data(as_text=True)
    assert counts(html) == {"sub_partners": 0, "customers": 1, "learners": 6}


def test_customer_manager_sees_its_own_learners(tree, as_user):
    html = as_user(tree.users["customer"]).get("/").get_data(as_text=True)
    assert counts(html) == {"learners": 3}


def test_admin_sees_the_platform(tree, as_user):
    html = as_user(tree.users["admin"]).get("/").get_data(as_text=True)
    assert counts(html) == {"partners": 2, "sub_partners": 1, "customers": 3, "learners": 18}


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_the_dashboards_figures_link_to_the_lists_they_count(tree, as_user):
    html = as_user(tree.users["partner"]).get("/").get_data(as_text=True)
    links = dict(re.findall(r'data-count="(\w+)" href="([^"]+)"', html))
    assert set(links) == {"sub_partners", "customers", "learners"}
    assert links["learners"] == "/learners/list/"
    customers = as_user(tree.users["partner"]).get(links["customers"].replace("&amp;", "&"))
    rows = re.findall(r'<tr data-pk="(\d+)"', customers.get_data(as_text=True))
    assert sorted(map(int, rows)) == sorted([tree.customer.id, tree.sub_customer.id])
    # a customer's own seat figures open its tabs; a partner's subtree sums open
    # Renewals, filtered to the companies they sum, largest first
    customer = as_user(tree.users["customer"]).get("/").get_data(as_text=True)
    assert 'data-seats="expired" href="/licenses/expired/list/"' in customer
    seats = dict(re.findall(r'data-seats="(\w+)" href="([^"]+)"', html))
    assert (
        seats["expired"].replace("&amp;", "&") == "/renewals/?min_expired=1&sort=expired&dir=desc"
    )
    assert seats["expiring"].startswith("/renewals/?min_expiring_30=1")
