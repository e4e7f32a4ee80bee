"""List pages issue a fixed number of SQL statements, whatever the page size."""

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
    for url in ("/learners/list/?psize_LearnerView={}", "/managers/list/?psize_ManagerView={}"):
        _, at_10 = statements_for(client, url.format(10))
        _, at_100 = statements_for(client, url.format(100))
        assert len(at_10) == len(at_100), url
