"""List pages issue a fixed number of SQL statements, whatever the page size."""

import re
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests import factories


@contextmanager
def counting_statements():
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def statements_for(client, url):
    with counting_statements() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return response, statements


def test_company_list_statements_do_not_grow_with_page_size_over_2000_companies(
    tree, as_user, session
):
    factories.bulk_customers(tree.partner, 2000)
    session.commit()
    client = as_user(tree.users["partner"])
    client.get("/companies/list/")  # learns the subtree's width (tenancy.page_scope_kind)
    small, at_10 = statements_for(client, "/companies/list/?psize_CompanyView=10")
    large, at_100 = statements_for(client, "/companies/list/?psize_CompanyView=100")
    assert len(at_10) == len(at_100), (at_10, at_100)
    assert small.get_data(as_text=True).count("/companies/show/") < large.get_data(
        as_text=True
    ).count("/companies/show/")
    # The partner's subtree: itself, Sub S, Customer C1, Customer C2 and the 2,000.
    assert "<strong>Record Count:</strong> 2,004" in large.get_data(as_text=True)


def test_learner_and_user_lists_statements_do_not_grow_with_page_size(tree, as_user, session):
    factories.learners(tree.customer, 120)
    session.commit()
    client = as_user(tree.users["partner"])
    client.get("/learners/list/")  # learns the subtree's width (tenancy.page_scope_kind)
    for url in ("/learners/list/?psize_LearnerView={}", "/managers/list/?psize_ManagerView={}"):
        _, at_10 = statements_for(client, url.format(10))
        _, at_100 = statements_for(client, url.format(100))
        assert len(at_10) == len(at_100), url


def test_a_list_reads_its_page_and_related_names_in_one_statement(tree, as_user, session):
    """The Audit Log's page names who acted and for which companies (the person's and
    the companies' names by subquery, views/page_rows.py): one statement for the rows,
    never one per relation, and each name links where its entity's would."""
    client = as_user(tree.users["partner"])
    client.get("/audit/list/")  # learns the subtree's width (tenancy.page_scope_kind)
    response, statements = statements_for(client, "/audit/list/?psize_AuditLogView=100")
    pages = [s for s in statements if s.lstrip().startswith("SELECT audit_events.id")]
    assert len(pages) == 1, statements
    # Besides the signed-in user's statement, only the count and the page.
    reads = [s for s in statements if s.lstrip().startswith("SELECT")]
    assert len([s for s in reads if "audit_events" not in s]) == 1, statements
    html = response.get_data(as_text=True)
    # A learner added to Customer C2 by the sub-partner's account manager.
    row = next(r for r in html.split("<tr ")[1:] if "Learner added" in r and "Customer C2" in r)
    assert f'/companies/show/{tree.sub_customer.id}">Customer C2</a>' in row


def test_a_company_row_names_its_parent_not_itself(tree, as_user):
    """A company's parent is a company too: its name is the parent's."""
    html = as_user(tree.users["partner"]).get("/companies/list/").get_data(as_text=True)
    row = next(r for r in html.split("<tr ")[1:] if ">Customer C2</a>" in r)
    assert "<td>Sub S</td>" in row


def test_a_list_of_roles_keeps_the_entities():
    """A column this module cannot name in SQL (a person's roles) keeps FAB's path."""
    from app.models import AppUser, Learner
    from app.views.page_rows import PageReader

    assert PageReader.for_columns(AppUser, ["first_name", "roles"]) is None
    assert PageReader.for_columns(Learner, ["first_name", "company"]) is not None


def test_a_license_tab_in_manager_mode_reads_the_managed_company_once(tree, as_user, session):
    """The Expired tab's flags, its seat position and the Manager Mode banner all
    need the managed company: read once for the page (views/context.py `request_company`),
    not once per part that uses it."""
    from tests.views.test_manage import enter

    factories.expired_people(tree.customer, 3)
    session.commit()
    client = as_user(tree.users["partner"])
    enter(client, tree.customer)
    response, statements = statements_for(client, "/licenses/expired/list/")
    html = response.get_data(as_text=True)
    assert "you are managing <strong>Customer C1</strong> on behalf of" in html
    assert "<strong>Record Count:</strong> 3</div>" in html
    companies = [s for s in statements if s.lstrip().startswith("SELECT companies.id")]
    # The managed company (the partner the banner names comes with the signed-in user).
    assert len(companies) == 1, companies


def test_the_company_lists_count_is_the_viewers_subtree_narrowed_by_its_filters(tree, as_user):
    """Unfiltered, an account manager's count is its company's closure rows
    (`tenancy.scope_count`, without reading the companies), read with the page; a
    filter (FAB's query) counts the rows it keeps; the platform admin counts every
    company."""

    def count(user, url="/companies/list/"):
        html = as_user(tree.users[user]).get(url).get_data(as_text=True)
        return re.search(r"<strong>Record Count:</strong> ([\d,]+)", html).group(1)

    _, statements = statements_for(as_user(tree.users["partner"]), "/companies/list/")
    # The count rides with the page (its last column, after the rows' figures), one
    # statement.
    (page,) = [s for s in statements if s.lstrip().startswith("SELECT companies.id")]
    counted = re.findall(r"\(SELECT count\(\*\) AS \w+\s+FROM (\w+)", page)
    assert counted[-1] == "company_tree" and "companies" not in counted, counted
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT COUNT")]
    assert count("partner") == "4"  # itself, Sub S, Customer C1 and Customer C2
    assert count("sub") == "2"  # Sub S and Customer C2
    assert count("other_partner") == "2"  # Partner Q and Customer C3
    assert count("partner", "/companies/list/?_flt_2_name=Customer") == "2"
    assert count("sub", "/companies/list/?_flt_2_name=Customer") == "1"
    assert count("admin") == "6"


def test_a_wide_subtrees_page_probes_the_closure_table_and_both_forms_keep_the_scope(
    tree, as_user, session, monkeypatch, db_kind
):
    """On SQLite a subtree holding half the companies or more reads its page by probing
    the closure table row by row (`tenancy.page_scope_kind`), a narrower one by the
    list of its ids, as every count does; PostgreSQL always lists. Forced either way,
    each manager's Company list and Requested Orders keep exactly its own subtree."""
    from app import tenancy
    from app.services.orders import request_order

    def names(user, url="/companies/list/"):
        html = as_user(tree.users[user]).get(url).get_data(as_text=True)
        return sorted(re.findall(r'/companies/show/\d+">([^<]+)</a>', html))

    partner = ["Customer C1", "Customer C2", "Partner P", "Sub S"]
    sub, other = ["Customer C2", "Sub S"], ["Customer C3", "Partner Q"]
    _, statements = statements_for(as_user(tree.users["partner"]), "/companies/list/")
    (page,) = [s for s in statements if s.lstrip().startswith("SELECT companies.id")]
    assert ("EXISTS (SELECT" in page) == (db_kind == "sqlite")  # 4 of 6 companies: wide
    _, statements = statements_for(as_user(tree.users["sub"]), "/companies/list/")
    (page,) = [s for s in statements if s.lstrip().startswith("SELECT companies.id")]
    assert "EXISTS (SELECT" not in page  # 2 of 6: listed
    for share in (0, 2):  # every subtree wide, then none
        monkeypatch.setattr(tenancy, "WIDE_SHARE", share)
        tenancy.forget_widths()
        assert (names("partner"), names("sub"), names("other_partner")) == (partner, sub, other)
    for customer in ("customer", "sub_customer", "other_customer"):
        request_order(tree.actor(customer), getattr(tree, customer).id, 5)
    session.commit()
    for share in (0, 2):
        monkeypatch.setattr(tenancy, "WIDE_SHARE", share)
        tenancy.forget_widths()
        assert names("partner", "/orders/section/requested") == ["Customer C1", "Customer C2"]
        assert names("sub", "/orders/section/requested") == ["Customer C2"]
        assert names("other_partner", "/orders/section/requested") == ["Customer C3"]


def test_a_page_past_the_end_still_counts_the_list(tree, as_user):
    """An exact count rides with its page's rows: a page past the end, which has
    none, counts on its own."""
    client = as_user(tree.users["partner"])
    html = client.get("/companies/list/?psize_CompanyView=25&page_CompanyView=3").text
    assert "<strong>Record Count:</strong> 4</div>" in html
    assert "<tr data-pk=" not in html
