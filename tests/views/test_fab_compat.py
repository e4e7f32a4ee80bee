"""The Flask-AppBuilder seam (app/fab_compat.py): loads by id are scoped by the
panel's own query, FAB's unscoped group queries are refused."""

import pytest
from flask import g

from app.fab_compat import UnrestrictedQuery
from app.models import Order
from app.services.orders import request_order
from app.views.base import ScopedInterface


@pytest.fixture
def as_actor(app):
    """A request context signed in as a user (what FAB's views run in)."""

    def enter(user):
        context = app.test_request_context("/")
        context.push()
        g.user = user
        return context

    return enter


def test_a_load_by_id_sees_only_the_actors_rows(tree, session, as_actor):
    own = request_order(tree.actor("customer"), tree.customer.id, 3)
    foreign = request_order(tree.actor("other_customer"), tree.other_customer.id, 4)
    session.commit()
    context = as_actor(tree.users["customer"])
    try:
        orders = ScopedInterface(Order)
        assert orders.get(own.id) is own
        assert orders.get(foreign.id) is None
        assert orders.get("not-an-id") is None and orders.get(2**40) is None
    finally:
        context.pop()


@pytest.mark.parametrize("query", ["query_simple_group", "query_month_group", "query_year_group"])
def test_fabs_group_queries_are_refused_rather_than_left_unscoped(tree, as_actor, query):
    context = as_actor(tree.users["customer"])
    try:
        with pytest.raises(UnrestrictedQuery, match="not restricted"):
            getattr(ScopedInterface(Order), query)("status")
    finally:
        context.pop()
