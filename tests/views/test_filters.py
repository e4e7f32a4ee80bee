"""Add Filter as the guide says (issue 16, point 2): in view, operators in plain
words, status and kind as dropdowns, the quick search box, and the active filters as
chips that each remove themselves — all within the viewer's scope."""

import html as html_lib
import re

from tests import factories
from tests.views.test_orders import post, requested


def chips(page: str) -> dict[str, str]:
    """The active filters' chips: text → the address that removes it."""
    found = re.findall(
        r'<li class="filter-chip"><span>([^<]*)</span>\s*<a href="([^"]*)"', page, re.S
    )
    return {html_lib.unescape(text): html_lib.unescape(url) for text, url in found}


def test_operators_read_in_plain_words_and_status_is_a_dropdown(tree, as_user):
    page = as_user(tree.users["partner"]).get("/orders/list/").get_data(as_text=True)
    assert 'id="filter_form"' in page and "Add Filter" in page
    assert "collapse" not in page.split('id="filter_form"')[0].rsplit("list-panel", 1)[-1]
    for plain in ('"contains"', '"is"', '"is not"', '"more than"', '"before"', '"after"'):
        assert plain in page
    for fab in ("Not Starts with", "Relation", "Equal to", "Greater than", "Smaller than"):
        assert fab not in page
    status = page.split('"status": "\\u003cselect', 1)[1].split("/select", 1)[0]
    assert '\\"requested\\"' in status and "\\u003eRequested\\u003c" in status
    quantity = page.split('"quantity": "\\u003cinput', 1)[1].split("\\u003e", 1)[0]
    assert 'inputmode=\\"numeric\\"' in quantity and "required" not in quantity  # phones
    companies = as_user(tree.users["partner"]).get("/companies/list/").get_data(as_text=True)
    assert '"kind": "\\u003cselect' in companies


def test_a_status_chosen_in_the_dropdown_filters_and_shows_as_a_removable_chip(
    tree, as_user, session
):
    requested(tree, "customer", 3)
    assigned = requested(tree, "customer", 4)
    session.commit()
    client = as_user(tree.users["partner"])
    post(client, "/orders/assign", {"order": assigned.id})
    page = client.get("/orders/list/?_flt_3_status=requested&_flt_0_quantity=3")
    html = page.get_data(as_text=True)
    assert 'data-pk="' in html and f'data-pk="{assigned.id}"' not in html
    found = chips(html)
    assert found == {
        "Status is Requested": "/orders/list/?_flt_0_quantity=3",
        "Quantity is 3": "/orders/list/?_flt_3_status=requested",
    }
    html = client.get(found["Status is Requested"]).get_data(as_text=True)
    assert list(chips(html)) == ["Quantity is 3"]


def test_the_quick_search_finds_companies_orders_and_people_within_scope(tree, as_user, session):
    first = requested(tree, "customer", 5)
    other = requested(tree, "sub_customer", 6)
    session.commit()
    client = as_user(tree.users["partner"])
    html = client.get("/orders/list/?q=c1").get_data(as_text=True)  # Customer C1
    assert f'data-pk="{first.id}"' in html and f'data-pk="{other.id}"' not in html
    assert chips(html) == {"Search: c1": "/orders/list/"}
    html = client.get(f"/orders/list/?q=%23{other.id}").get_data(as_text=True)  # "#12"
    assert f'data-pk="{other.id}"' in html and f'data-pk="{first.id}"' not in html
    # Out of scope stays out, whatever is typed.
    html = as_user(tree.users["sub"]).get("/orders/list/?q=c1").get_data(as_text=True)
    assert f'data-pk="{first.id}"' not in html

    person = tree.people["Customer C1"][0]
    client = as_user(tree.users["partner"])
    html = client.get(
        "/learners/list/", query_string={"q": f"{person.first_name} {person.last_name}"}
    ).get_data(as_text=True)
    assert f'data-pk="{person.id}"' in html  # every word, in any of the names
    html = client.get("/learners/list/", query_string={"q": person.email.upper()})
    assert re.findall(r'<tr data-pk="(\d+)"', html.get_data(as_text=True)) == [str(person.id)]
    audit = client.get("/audit/list/?q=sub").get_data(as_text=True)  # company or who
    assert "Sub S" in audit and "Customer C1" not in audit.split("filter-bar", 1)[1]
    html = client.get("/companies/list/?q=sub").get_data(as_text=True)
    assert f'data-pk="{tree.sub.id}"' in html and f'data-pk="{tree.customer.id}"' not in html


def test_select_all_takes_what_the_quick_search_matches(tree, as_user, session):
    nurses = factories.expired_people(tree.customer, 3)
    factories.expired_people(tree.customer, 2)
    for person in nurses:
        person.email = person.email.replace("@", ".nurse@")
    session.commit()
    client = as_user(tree.users["customer"])
    html = client.get("/licenses/expired/list/?select=manual&q=nurse").get_data(as_text=True)
    assert "all 3 matching" in html
    assert 'name="select" value="manual"' in html  # searching again keeps the mode


def test_an_assigned_order_past_its_term_is_in_the_expired_section(tree, as_user, session):
    spent = factories.expired_people(tree.customer, 1)  # their order expired a month ago
    running = factories.assigned_order(tree.customer, 5)
    session.commit()
    client = as_user(tree.users["partner"])
    assigned = client.get("/orders/section/assigned").get_data(as_text=True)
    expired = client.get("/orders/section/expired").get_data(as_text=True)
    assert f'data-pk="{running.id}"' in assigned and f'data-pk="{running.id}"' not in expired
    ids = re.findall(r'<tr data-pk="(\d+)"', expired)
    assert len(ids) == 1 and expired.count("<td>Expired</td>") == 1  # its status in words
    assert spent and re.findall(r'<tr data-pk="(\d+)"', assigned) == [str(running.id)]


def test_day_filters_read_days_of_the_page_zone(tree, as_user, session):
    """ "on", "after" and "before" a day: its midnight in the viewer's company zone."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from app.models import Order

    tree.partner.timezone = "Australia/Sydney"
    evening = requested(tree, "customer", 7)  # 1 Dec, 23:30 in Sydney (12:30 UTC)
    evening.requested_at = datetime(2026, 12, 1, 23, 30, tzinfo=ZoneInfo("Australia/Sydney"))
    morning = requested(tree, "customer", 8)  # 2 Dec, 00:30 in Sydney (1 Dec 13:30 UTC)
    morning.requested_at = evening.requested_at + timedelta(hours=1)
    session.commit()
    client = as_user(tree.users["partner"])

    def listed(query):
        html = client.get(f"/orders/list/?{query}").get_data(as_text=True)
        return {int(pk) for pk in re.findall(r'<tr data-pk="(\d+)"', html)} & {
            evening.id,
            morning.id,
        }

    assert listed("_flt_0_requested_at=2026-12-01") == {evening.id}  # on
    assert listed("_flt_0_requested_at=2 Dec 2026") == {morning.id}  # as the panel writes it
    assert listed("_flt_1_requested_at=2026-12-01") == {morning.id}  # after
    assert listed("_flt_2_requested_at=2026-12-02") == {evening.id}  # before
    assert session.get(Order, evening.id).requested_at < session.get(Order, morning.id).requested_at
    page = client.get("/orders/list/?_flt_0_requested_at=9999-12-31")
    assert page.status_code == 400 and "must be a date" in page.get_data(as_text=True)
