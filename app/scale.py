"""MSP-scale data in a few set-based statements (`flask demo scale`, bench/).

One partner with sub-partners and customers under them, learners in every customer
(some with a department), orders in every state, licenses whose expiry dates are
spread over the past and the future, the orders' emails and an audit trail (every
learner added, every order requested and assigned), so every tab and list has real
volume.
Works on SQLite and PostgreSQL alike (a recursive CTE stands in for a series).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from app import clock
from app.extensions import db
from app.services.companies import create_company
from app.sql import bind_instant, dialect, refresh_statistics
from app.tenancy import system_actor


@dataclass
class Scale:
    sub_partners: int = 20
    customers: int = 2000
    learners: int = 200_000
    licenses: int = 1_000_000

    @property
    def per_customer(self) -> int:
        return max(1, self.learners // self.customers)

    @property
    def orders_per_customer(self) -> int:
        """Each learner holds one license per assigned order of its company."""
        return max(1, self.licenses // max(1, self.learners))


def generate(scale: Scale, name: str = "Scale MSP") -> int:
    """Fill the database; returns the partner's id. The caller commits."""
    partner = create_company(system_actor("cli"), name=name, kind="partner", parent_id=None)
    db.session.flush()
    params = {
        "partner": partner.id,
        "subs": scale.sub_partners,
        "customers": scale.customers,
        "per": scale.per_customer,
        "orders": scale.orders_per_customer,
        "now": bind_instant(clock.now()),
    }
    postgresql = dialect() == "postgresql"
    for statement in _statements(dialect()):
        db.session.execute(text(statement), params)
        if postgresql:  # planner statistics for the rows just loaded
            refresh_statistics(db.session)
    if not postgresql:
        refresh_statistics(db.session)
    return partner.id


# Days from now to an assigned order's expiry, by customer (c) and order (n).
EXPIRY_DAYS = """CASE WHEN c.id % 5 = 0 THEN -1 - (c.id * 37 + n.i * 101) % 365
                      ELSE (c.id * 37 + n.i * 101) % 730 - 365 END"""
SERIES = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {limit})"


def _statements(database: str) -> list[str]:
    days = "(({expr}) * INTERVAL '1 day')" if database == "postgresql" else None

    def plus_days(expr: str) -> str:
        if database == "postgresql":
            return f"(CAST(:now AS timestamptz) + {days.format(expr=expr)})"
        return f"datetime(:now, ({expr}) || ' days')"

    def day_of(expr: str) -> str:
        return f"CAST({expr} AS date)" if database == "postgresql" else f"date({expr})"

    true = "true" if database == "postgresql" else "1"
    return [
        # Sub-partners under the partner, customers spread over them.
        f"""INSERT INTO companies (name, kind, parent_id, timezone, auto_license, created_at)
        {SERIES.format(limit=":subs")}
        SELECT 'Sub-partner ' || i, 'sub_partner', :partner, 'UTC', {true}, :now FROM n""",
        f"""INSERT INTO companies (name, kind, parent_id, timezone, auto_license, created_at)
        {SERIES.format(limit=":customers")},
        subs(id, k) AS (SELECT id, row_number() OVER (ORDER BY id) FROM companies
                        WHERE parent_id = :partner AND kind = 'sub_partner')
        SELECT 'Customer ' || n.i, 'customer', subs.id, 'UTC', {true}, :now
        FROM n JOIN subs ON subs.k = ((n.i - 1) % :subs) + 1""",
        # The closure table: self links, links to the sub-partner, links to the partner.
        """INSERT INTO company_tree (ancestor_id, descendant_id, depth)
        SELECT id, id, 0 FROM companies WHERE parent_id = :partner
           OR parent_id IN (SELECT id FROM companies WHERE parent_id = :partner)""",
        """INSERT INTO company_tree (ancestor_id, descendant_id, depth)
        SELECT parent_id, id, 1 FROM companies WHERE parent_id = :partner
           OR parent_id IN (SELECT id FROM companies WHERE parent_id = :partner)""",
        """INSERT INTO company_tree (ancestor_id, descendant_id, depth)
        SELECT :partner, id, 2 FROM companies
        WHERE parent_id IN (SELECT id FROM companies WHERE parent_id = :partner)""",
        # Learners: `per` in every customer, a department on two in three.
        f"""INSERT INTO learners (company_id, email, first_name, last_name, department, active,
                                  created_at)
        {SERIES.format(limit=":per")}
        SELECT c.id, 'person' || n.i || '@customer' || c.id || '.example.com', 'Person',
               'No' || n.i,
               CASE n.i % 3 WHEN 0 THEN NULL WHEN 1 THEN 'Sales' ELSE 'Support' END,
               {true}, :now
        FROM companies c CROSS JOIN n
        WHERE c.kind = 'customer'
          AND c.parent_id IN (SELECT id FROM companies WHERE parent_id = :partner)""",
        # Orders: `orders` assigned per customer, expiring from a year ago to a year on
        # (every fifth customer's all in the past: its learners are all expired), plus
        # one requested, one declined and one cancelled.
        f"""INSERT INTO orders (company_id, quantity, allocated, status, requested_at,
                                assigned_at, expires_at, expires_on)
        {SERIES.format(limit=":orders")}
        SELECT c.id, :per, 0, 'assigned', :now, :now,
               {plus_days(EXPIRY_DAYS)},
               {day_of(plus_days(EXPIRY_DAYS))}
        FROM companies c CROSS JOIN n
        WHERE c.kind = 'customer'
          AND c.parent_id IN (SELECT id FROM companies WHERE parent_id = :partner)""",
        """INSERT INTO orders (company_id, quantity, allocated, status, requested_at,
                               close_reason)
        SELECT c.id, 10 + c.id % 40, 0,
               CASE c.id % 3 WHEN 0 THEN 'requested' WHEN 1 THEN 'declined'
                             ELSE 'cancelled' END,
               :now,
               CASE c.id % 3 WHEN 0 THEN NULL ELSE 'Generated for scale tests' END
        FROM companies c
        WHERE c.kind = 'customer'
          AND c.parent_id IN (SELECT id FROM companies WHERE parent_id = :partner)""",
        # Licenses: every learner holds one seat of each assigned order of its company.
        """INSERT INTO licenses (learner_id, order_id, company_id, allocated_at, expires_at)
        SELECT l.id, o.id, l.company_id, :now, o.expires_at
        FROM learners l JOIN orders o ON o.company_id = l.company_id AND o.status = 'assigned'
        WHERE l.company_id IN (SELECT descendant_id FROM company_tree
                               WHERE ancestor_id = :partner)""",
        """UPDATE orders SET allocated = quantity
        WHERE status = 'assigned' AND company_id IN (SELECT descendant_id FROM company_tree
                                                     WHERE ancestor_id = :partner)""",
        # The outbox's history: the request email of every order, the assigned email of
        # the assigned ones, each to a manager address of the customer, mostly sent.
        f"""INSERT INTO emails (key, kind, company_id, order_id, recipient, subject, body,
                                state, attempts, created_at, sent_at)
        SELECT CASE k.kind WHEN 1 THEN 'order_requested' ELSE 'order_assigned' END
               || ':' || 'order-' || o.id || ':' || 'scale',  -- ':' alone: not a bind
               CASE k.kind WHEN 1 THEN 'order_requested' ELSE 'order_assigned' END,
               o.company_id, o.id, 'manager@customer' || o.company_id || '.example.com',
               'License ' || CASE k.kind WHEN 1 THEN 'Request' ELSE 'Assigned' END
               || ' Notification: ' || o.quantity || ' licenses',
               'Generated for scale tests.',
               CASE WHEN o.id % 50 = 0 THEN 'failed' ELSE 'sent' END, 1,
               {plus_days("-(o.id % 365)")}, {plus_days("-(o.id % 365)")}
        FROM orders o CROSS JOIN (SELECT 1 AS kind UNION ALL SELECT 2) k
        WHERE (k.kind = 1 OR o.status = 'assigned')
          AND o.company_id IN (SELECT descendant_id FROM company_tree
                               WHERE ancestor_id = :partner)""",
        # The audit trail: every learner added, every order requested and assigned.
        f"""INSERT INTO audit_events (at, company_id, interface, action, entity, entity_id)
        SELECT {plus_days("-(l.id % 365)")}, l.company_id, 'cli', 'learner.created',
               'learner', l.id
        FROM learners l
        WHERE l.company_id IN (SELECT descendant_id FROM company_tree
                               WHERE ancestor_id = :partner)""",
        f"""INSERT INTO audit_events (at, company_id, interface, action, entity, entity_id)
        SELECT {plus_days("-(o.id % 365)")}, o.company_id, 'web',
               CASE k.kind WHEN 1 THEN 'order.requested' ELSE 'order.assigned' END,
               'order', o.id
        FROM orders o CROSS JOIN (SELECT 1 AS kind UNION ALL SELECT 2) k
        WHERE (k.kind = 1 OR o.status = 'assigned')
          AND o.company_id IN (SELECT descendant_id FROM company_tree
                               WHERE ancestor_id = :partner)""",
        # Each learner's latest license decides its state (one grouped pass).
        """UPDATE learners SET license_expires_at = latest.expires_at,
                               license_type = 'premium'
        FROM (SELECT learner_id, max(expires_at) AS expires_at FROM licenses
              GROUP BY learner_id) AS latest
        WHERE latest.learner_id = learners.id""",
    ]


def summary() -> dict[str, int]:
    counts = {}
    for table in ("companies", "learners", "orders", "licenses", "emails", "audit_events"):
        counts[table] = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    return counts
