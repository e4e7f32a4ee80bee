"""The dashboard's charts and Needs action (issue 17): months counted in the viewer's
zone, requests waiting for the nearest account managers only, companies expiring
without a request, stuck emails — each within the viewer's scope."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from app import clock
from app.models import AppUser, Email, EmailState
from app.services import dashboard, renewals
from app.services.orders import request_order
from tests import factories


def test_seats_expiring_per_month_in_the_viewers_zone(tree, session):
    zone = ZoneInfo("Pacific/Auckland")
    now = clock.now()
    local = now.astimezone(zone)
    next_month = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=zone)
    # 2 people at the very start of next month (local), 3 in five months' time
    factories.licenses_expiring(tree.customer, 2, next_month)
    factories.licenses_expiring(tree.sub_customer, 3, next_month + timedelta(days=31 * 4 + 2))
    factories.licenses_expiring(tree.other_customer, 4, next_month)  # another tree
    session.commit()
    months = dashboard.expiring_by_month(tree.actor("partner"), now, "Pacific/Auckland")
    assert len(months) == 12 and months[0].label == f"{local:%b %Y}"
    assert [m.count for m in months][:6] == [0, 2, 0, 0, 0, 3]
    in_utc = dashboard.expiring_by_month(tree.actor("partner"), now, "UTC")
    assert sum(m.count for m in in_utc) == 5  # the same people, by UTC's months
    mine = dashboard.expiring_by_month(tree.actor("customer"), now, "Pacific/Auckland")
    assert sum(m.count for m in mine) == 2


def test_requests_wait_for_the_nearest_account_managers(tree, session):
    def request(company, quantity):
        return request_order(factories.replace_actor_in(company), company.id, quantity)

    direct = request(tree.customer, 3)  # Partner P's customer: waits for Partner P
    below_sub = request(tree.sub_customer, 4)  # waits for Sub S, not Partner P
    session.commit()
    waiting = dashboard.needs_action(tree.actor("partner"))
    assert [o.id for o in waiting.requests] == [direct.id] and waiting.request_count == 1
    assert [o.id for o in dashboard.needs_action(tree.actor("sub")).requests] == [below_sub.id]
    # Sub S has no active manager any more: its customer's request went to Partner P.
    session.execute(update(AppUser).where(AppUser.company_id == tree.sub.id).values(active=False))
    session.commit()
    assert {o.id for o in dashboard.needs_action(tree.actor("partner")).requests} == {
        direct.id,
        below_sub.id,
    }
    assert dashboard.needs_action(tree.actor("other_partner")).request_count == 0
    assert dashboard.needs_action(tree.actor("customer")).request_count == 0  # decides nothing
    own = request(tree.other_partner, 2)  # a partner's own request: the platform's
    session.commit()
    assert own.id in {o.id for o in dashboard.needs_action(tree.actor("admin")).requests}


def test_companies_expiring_without_a_request_and_stuck_emails(tree, session):
    now = clock.now()
    factories.licenses_expiring(tree.customer, 2, now + timedelta(days=5))
    factories.licenses_expiring(tree.sub_customer, 1, now + timedelta(days=6))
    request_order(factories.replace_actor_in(tree.sub_customer), tree.sub_customer.id, 1)
    session.commit()
    needs = dashboard.needs_action(tree.actor("partner"))
    assert [r.name for r in needs.unrequested] == ["Customer C1"] and needs.unrequested_count == 1
    assert [r.expiring_30 for r in needs.unrequested] == [2]
    # The same companies as Renewals' "Expiring in 30 days, no open request".
    ranges = {"expiring_30": (1, None), "open_requests": (None, 0)}
    grid = renewals.page(tree.actor("partner"), renewals.Query(ranges=ranges))
    assert [(r.company_id, r.figures["expiring_30"]) for r in grid.rows] == [
        (r.company_id, r.expiring_30) for r in needs.unrequested
    ]
    assert needs.emails == {"failed": 0, "needs_attention": 0}
    session.execute(
        update(Email)
        .where(Email.company_id == tree.sub_customer.id)
        .values(state=EmailState.FAILED.value)
    )
    session.commit()
    assert dashboard.needs_action(tree.actor("partner")).emails["failed"] >= 1
    assert dashboard.needs_action(tree.actor("other_partner")).emails["failed"] == 0
    assert dashboard.needs_action(tree.actor("other_partner")).empty
