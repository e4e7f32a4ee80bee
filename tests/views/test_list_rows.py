"""The list rows built in Python (views/list_rows.py): escaped cells, the same links
`url_for` builds, the row menus and checkboxes the template used to render."""

import re

from flask import url_for

from app.views.list_rows import UrlPattern
from tests import factories


def test_an_address_pattern_builds_what_url_for_builds(app):
    with app.test_request_context("/"):
        show = UrlPattern("ScheduleView.show")  # an <int:pk> route
        assign = UrlPattern("OrderView.assign_preview", "order", next="/orders/list/?a=1&b=2")
        for key in (1, 42, 2147483647):
            assert show(key) == url_for("ScheduleView.show", pk=key)
            assert assign(key) == url_for(
                "OrderView.assign_preview", order=key, next="/orders/list/?a=1&b=2"
            )


def test_a_hostile_company_name_is_shown_escaped_and_links_to_its_page(tree, as_user, session):
    hostile = factories.company(tree.partner, "customer", "<script>alert(1)</script> & Co")
    session.commit()
    html = as_user(tree.users["partner"]).get("/companies/list/?psize_CompanyView=100").text
    row = re.search(rf'<tr data-pk="{hostile.id}">(.*?)</tr>', html, re.S).group(1)
    assert "<script>alert(1)" not in html
    assert (
        f'<a href="/companies/show/{hostile.id}">&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</a>'
        in row
    )
    # The account manager's actions menu: Manage Company is a POST with its token.
    assert f'action="/companies/action/manage/{hostile.id}"' in row
    assert 'name="csrf_token"' in row and f'aria-label="Actions for row {hostile.id}"' in row


def test_rows_carry_checkboxes_only_where_the_list_has_actions(tree, as_user):
    client = as_user(tree.users["partner"])
    learners = client.get("/learners/list/").text  # Flag do-not-renew, … on ticked rows
    audit = client.get("/audit/list/").text  # no actions
    assert 'class="action_check" name="rowid"' in learners and 'id="check_all"' in learners
    assert '<tr data-pk="' in audit
    assert 'class="action_check"' not in audit and 'id="check_all"' not in audit


def test_each_company_row_counts_its_own_expiring_and_expired_people(tree, as_user, session):
    """The Company list's figures, per row: people expiring within 30 days, people
    expired, free seats — each company its own, none when it has nobody."""
    from datetime import timedelta

    from app import clock

    factories.expired_people(tree.customer, 3)
    factories.licenses_expiring(tree.customer, 2, clock.now() + timedelta(days=10))
    session.commit()
    html = as_user(tree.users["partner"]).get("/companies/list/").text
    header = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    labels = [
        re.sub(r"<[^>]+>|\s+", " ", th).strip() for th in re.findall(r"<th.*?</th>", header, re.S)
    ]

    def figures(company):
        row = re.search(rf'<tr data-pk="{company.id}">(.*?)</tr>', html, re.S).group(1)
        cells = [re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td.*?</td>", row, re.S)]
        named = dict(zip(labels, cells, strict=True))
        return named["Expiring (30 days)"], named["Expired"]

    assert figures(tree.customer) == ("2", "3")
    assert figures(tree.sub) == ("0", "0")


def test_back_leads_to_the_list_before_and_a_reload_does_not_rewrite_the_session(tree, as_user):
    client = as_user(tree.users["partner"])
    assert client.get("/orders/list/").headers.get("Set-Cookie")  # history: the orders
    assert client.get("/companies/list/").headers.get("Set-Cookie")  # then the companies
    # Reloading the companies changes no history: the session is not signed and sent again.
    assert client.get("/companies/list/").headers.get("Set-Cookie") is None
    back = client.get("/back")
    assert back.status_code == 302 and back.headers["Location"].endswith("/orders/list/")
