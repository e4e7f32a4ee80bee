"""Role-based menus, in the guide's words."""

import re

import pytest


def menu_labels(html: str) -> set[str]:
    nav = html.split('class="nav navbar-nav"', 1)[1].split("navbar-right", 1)[0]
    return {m.strip() for m in re.findall(r"</i>\s*(?:&nbsp;)?\s*([A-Z][\w /]+?)\s*<", nav)}


@pytest.mark.parametrize(
    "who, shown, hidden",
    [
        ("admin", {"Admin Dashboard", "Company", "Renewals", "Users", "Security"}, set()),
        ("partner", {"Admin Dashboard", "Company", "Renewals", "Learners"}, {"Security"}),
        ("customer", {"Admin Dashboard", "Users", "Learners"}, {"Company", "Renewals"}),
    ],
)
def test_each_role_sees_its_own_menus(tree, as_user, who, shown, hidden):
    html = as_user(tree.users[who]).get("/").get_data(as_text=True)
    labels = menu_labels(html)
    assert shown <= labels
    assert not (hidden & labels)


def test_after_login_a_manager_lands_on_the_admin_dashboard(tree, client):
    page = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login/",
        data={"username": "partner_am", "password": "test-password-1", "csrf_token": token},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert '<h1 class="h2">Admin Dashboard</h1>' in html
    assert "Partner P" in html


def test_opening_the_panel_signed_out_shows_the_sign_in_page_without_a_denial(tree, client):
    response = client.get("/", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.request.path == "/login/"
    assert "Sign In" in html and "Access is Denied" not in html
