"""The list rows built in Python (views/list_rows.py): escaped cells, the same links
`url_for` builds, the row menus and checkboxes the template used to render."""

import re

from flask import url_for

from app.services.orders import request_order
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
    """The Company list's figures, per row, read with the page's rows: active people,
    the plan, free seats, people expiring within 30 days and expired — each company
    its own, none when it has nobody; the same on a filtered list (FAB's query)."""
    from datetime import timedelta

    from app import clock

    factories.expired_people(tree.customer, 3)
    factories.licenses_expiring(tree.customer, 2, clock.now() + timedelta(days=10))
    factories.assigned_order(tree.customer, 7)
    session.commit()
    client = as_user(tree.users["partner"])

    def figures(company, path="/companies/list/"):
        html = client.get(path).text
        header = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
        labels = [
            re.sub(r"<[^>]+>|\s+", " ", th).strip()
            for th in re.findall(r"<th.*?</th>", header, re.S)
        ]
        row = re.search(rf'<tr data-pk="{company.id}">(.*?)</tr>', html, re.S).group(1)
        cells = [re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td.*?</td>", row, re.S)]
        named = dict(zip(labels, cells, strict=True))
        return tuple(
            named[k] for k in ("Learners", "Plan", "Free seats", "Expiring (30 days)", "Expired")
        )

    customer = figures(tree.customer)
    assert customer == ("8", "Premium", "7", "2", "3")
    assert figures(tree.sub) == ("3", "—", "0", "0", "0")
    assert figures(tree.customer, "/companies/list/?_flt_2_name=Customer") == customer


def test_back_leads_to_the_list_before_and_a_reload_does_not_rewrite_the_session(tree, as_user):
    client = as_user(tree.users["partner"])
    assert client.get("/orders/list/").headers.get("Set-Cookie")  # history: the orders
    assert client.get("/companies/list/").headers.get("Set-Cookie")  # then the companies
    # Reloading the companies changes no history: the session is not signed and sent again.
    assert client.get("/companies/list/").headers.get("Set-Cookie") is None
    back = client.get("/back")
    assert back.status_code == 302 and back.headers["Location"].endswith("/orders/list/")


LISTS = {
    "CompanyView": "/companies/list/",
    "LearnerView": "/learners/list/",
    "OrderView": "/orders/list/",
    "EmailView": "/emails/list/",
    "AuditView": "/audit/list/",
}
SECTIONS = ["/orders/section/requested", "/orders/section/assigned", "/orders/section/expired"]
# The license tabs of the company in view, with their state, open-pool and do-not-renew
# filters (base filters the kept statements hold).
LICENSE_TABS = [
    "/licenses/available/list/",
    "/licenses/allocated/list/",
    "/licenses/expiring/list/",
    "/licenses/expired/list/",
    "/licenses/unlicensed/list/",
    "/licenses/expired/list/?flagged=yes",
    "/licenses/expired/list/?flagged=no",
    "/licenses/expiring/list/?flagged=yes",
    "/licenses/expiring/list/?flagged=no",
]


def _shown(client, path: str) -> tuple[str, list[str]]:
    html = client.get(path).text
    count = re.search(r"Record Count:</strong>\s*([\d,+]+)", html)
    return (count.group(1) if count else "none"), re.findall(r'<tr data-pk="(\d+)"', html)


def test_lists_built_once_per_shape_show_each_viewer_what_fabs_query_shows(
    tree, client, session, monkeypatch
):
    """A list's statements are built once per shape and reused with each request's
    values (ScopedInterface.prepared): every viewer, one after another in the same
    process, sees exactly the rows and count FAB's query built for it shows — its
    own, never the previous viewer's — in every order, page, Orders section and
    license tab, with and without the do-not-renew filter."""
    from datetime import date, timedelta

    from app import clock
    from app.views.base import ScopedInterface
    from app.views.context import MANAGING_KEY
    from tests.conftest import login

    expired = {}
    for customer, people in ((tree.customer, 3), (tree.sub_customer, 2), (tree.other_customer, 1)):
        expired[customer] = factories.expired_people(customer, people)
        factories.assigned_order(customer, 5)
        request_order(factories.replace_actor_in(customer), customer.id, 3)
    # The managed customer: a flag by a manager's word, one by its inactivity rule
    # (90 days), and people on every tab.
    word, idle, _kept = expired[tree.customer]
    word.do_not_renew = True
    idle.last_active_on = date(2020, 1, 1)
    tree.customer.inactive_days = 90
    _order, soon = factories.licenses_expiring(tree.customer, 2, clock.now() + timedelta(days=10))
    soon[0].do_not_renew = True
    unlicensed = factories.learners(tree.customer, 2)
    # Another customer's rule is off: only a manager's word flags its people.
    expired[tree.sub_customer][0].do_not_renew = True
    session.commit()
    paths = [*LISTS.values(), *SECTIONS, *LICENSE_TABS]
    for view, path in LISTS.items():
        paths.append(f"{path}?psize_{view}=2&page_{view}=1")
        paths.append(f"{path}?_oc_{view}=id&_od_{view}=asc")
    viewers = [(name, None) for name in ("partner", "other_partner", "customer", "sub", "admin")]
    viewers.append(("partner", tree.customer.id))  # Manage Company mode
    viewers.append(("partner", tree.sub_customer.id))

    def everything():
        seen = {}
        for name, managing in viewers:
            login(client, tree.users[name])
            with client.session_transaction() as cookie:
                cookie.pop(MANAGING_KEY, None)
                if managing:
                    cookie[MANAGING_KEY] = managing
            for path in paths:
                seen[name, managing, path] = _shown(client, path)
        return seen

    built_once = everything()
    monkeypatch.setattr(ScopedInterface, "prepared", lambda *args: None)
    assert built_once == everything()
    # Not vacuous: the lists hold rows, and the partners' lists differ.
    assert built_once["partner", None, "/orders/section/requested"][1]
    assert set(built_once["partner", None, "/emails/list/"][1]).isdisjoint(
        built_once["other_partner", None, "/emails/list/"][1]
    )
    managed = {path: built_once["partner", tree.customer.id, path] for path in LICENSE_TABS}
    expired, flagged, not_flagged = (
        set(managed[f"/licenses/expired/list/{query}"][1])
        for query in ("", "?flagged=yes", "?flagged=no")
    )
    assert flagged == {str(word.id), str(idle.id)} and flagged | not_flagged == expired
    assert managed["/licenses/expiring/list/?flagged=yes"][1] == [str(soon[0].id)]
    assert {str(p.id) for p in unlicensed} <= set(managed["/licenses/unlicensed/list/"][1])
    assert managed["/licenses/available/list/"][1]
