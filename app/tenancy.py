"""Who may see and change which company: the one place it is defined.

Everything tenant-scoped goes through `scope()` (lists, loads by id, dropdowns,
exports) or `require_company()` (services, before any change). Views reach it
through `app.views.base.ScopedInterface`, services call it directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
)

from app.errors import DomainError, NotFound
from app.extensions import db
from app.models import AppUser, Company, CompanyTree, Email
from app.models.email import COMPANY_STEP_KIND_PREFIXES, TO_COMPANY_MANAGERS
from app.roles import ROLE_ACCOUNT_MANAGER, ROLE_ADMIN, ROLE_CUSTOMER_MANAGER
from app.sql import builds_in_lists, read

ADMIN = "admin"
ACCOUNT_MANAGER = "account_manager"
CUSTOMER_MANAGER = "customer_manager"
NOBODY = "nobody"


@dataclass(frozen=True)
class Actor:
    """Who is acting, from which interface (web, worker, cli)."""

    user_id: int | None
    role: str
    company_id: int | None = None
    interface: str = "web"
    # The company an account manager is managing (Manage Company mode), if any.
    managing_company_id: int | None = None
    # An API key's limits: one company of the scope (and those under it), reads only,
    # and the key's label (audited beside the interface).
    limited_to: int | None = None
    read_only: bool = False
    via: str | None = None

    @property
    def company_in_view(self) -> int | None:
        """The company whose own screens the actor is working in."""
        return self.managing_company_id or self.company_id

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def is_account_manager(self) -> bool:
        return self.role == ACCOUNT_MANAGER

    @property
    def is_customer_manager(self) -> bool:
        return self.role == CUSTOMER_MANAGER

    @property
    def may_manage_others(self) -> bool:
        """Whether the actor acts for companies below its own (Manage Company, Assign)."""
        return self.is_account_manager or self.is_admin

    @property
    def sees_one_company(self) -> bool:
        """Whether the actor's company screens show one company's own figures (a
        customer's manager, or Manage Company mode) rather than a subtree's."""
        return self.is_customer_manager or bool(self.managing_company_id)

    def works_in(self, company_id: int | None) -> bool:
        """Whether `company_id` is the company whose own screens the actor is on."""
        return company_id is not None and company_id == self.company_in_view


def actor_for(user: AppUser | None, interface: str = "web") -> Actor:
    """The actor a signed-in user acts as; an inactive or anonymous user sees nothing."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Actor(None, NOBODY, interface=interface)
    return actor_of(user.id, user.company_id, user.role_names, user.active, interface)


def actor_of(
    user_id: int, company_id: int | None, role_names: set[str], active: bool, interface: str
) -> Actor:
    """The actor of a user given by its columns (the API reads them with its key)."""
    if not active:
        return Actor(None, NOBODY, interface=interface)
    if ROLE_ADMIN in role_names:
        return Actor(user_id, ADMIN, company_id, interface)
    if company_id is None:
        return Actor(user_id, NOBODY, interface=interface)
    if ROLE_ACCOUNT_MANAGER in role_names:
        return Actor(user_id, ACCOUNT_MANAGER, company_id, interface)
    if ROLE_CUSTOMER_MANAGER in role_names:
        return Actor(user_id, CUSTOMER_MANAGER, company_id, interface)
    return Actor(user_id, NOBODY, interface=interface)


def system_actor(interface: str) -> Actor:
    """The worker and operator commands act with the platform's full scope."""
    return Actor(None, ADMIN, None, interface)


def subtree_ids(company_id) -> Select:
    """Ids of the company and every company under it, at any depth (`company_id`: an
    id, or a bound parameter)."""
    return select(CompanyTree.descendant_id).where(CompanyTree.ancestor_id == company_id)


def scope(actor: Actor, company_column) -> ColumnElement[bool]:
    """A WHERE clause keeping rows whose company column the actor may act on (an
    API key limited to one company: within that company's subtree too)."""
    clause = _role_scope(actor, company_column)
    if actor.limited_to is not None:
        return and_(clause, company_column.in_(subtree_ids(actor.limited_to)))
    return clause


def _role_scope(actor: Actor, company_column) -> ColumnElement[bool]:
    kind, company = _role_scope_kind(actor)
    return SCOPES[kind](company_column, company)


def _role_scope_kind(actor: Actor) -> tuple[str, int | None]:
    if actor.is_admin:
        return "all", None
    if actor.is_customer_manager:
        return "company", actor.company_id
    if actor.is_account_manager:
        return "subtree", actor.company_id
    return "none", None


# The kinds of scope, each a clause of a company column and one company: its id, or a
# bound parameter where a list's statements are built once (`screen_scope_kind`).
SCOPES = {
    "all": lambda column, company: true(),
    "none": lambda column, company: false(),
    "company": lambda column, company: column == company,
    "subtree": lambda column, company: column.in_(subtree_ids(company)),
    # The same rows as "subtree", probed row by row (`page_scope_kind`).
    "probed subtree": lambda column, company: exists().where(
        CompanyTree.ancestor_id == company, CompanyTree.descendant_id == column
    ),
}


def page_scope_kind(kind: str, company: int | None) -> str:
    """The kind of `SCOPES` a list's page statement (read in its order, 25 rows or
    so) uses for a scope of `kind`: a wide subtree's rows probed one by one in the
    closure table, where the database would first build the subtree's ids into a
    list (`sql.builds_in_lists`): the page stops after its rows, and in a wide
    subtree nearly every row read is one of them. A narrow subtree keeps the list
    (probing would read the other companies' rows too), and so does every count,
    which reads all the scope's rows (a partner's 200,000 people: 12 ms listed,
    78 ms probed)."""
    if kind == "subtree" and builds_in_lists() and _is_wide(company):
        return "probed subtree"
    return kind


# A subtree is wide from this share of all companies on (the MSP's own partner, in
# the install it runs), and is known for WIDTH_SECONDS per process: both forms read
# the same rows, so a company moved meanwhile only changes the plan.
WIDE_SHARE = 0.5
WIDTH_SECONDS = 600
_WIDTH = select(
    select(func.count()).where(CompanyTree.ancestor_id == bindparam("company")).scalar_subquery(),
    select(func.count()).select_from(Company).scalar_subquery(),
)
# company -> (until when (time.monotonic()), wide)
_widths: dict[int, tuple[float, bool]] = {}


def _is_wide(company: int) -> bool:
    now = time.monotonic()
    known = _widths.get(company)
    if known is not None and known[0] > now:
        return known[1]
    under, companies = read(_WIDTH, {"company": company}).one()
    wide = under >= WIDE_SHARE * companies
    if len(_widths) > 10_000:
        _widths.clear()
    _widths[company] = (now + WIDTH_SECONDS, wide)
    return wide


def forget_widths() -> None:
    """Forget which subtrees were found wide, in this process (tests roll their data
    back between tests)."""
    _widths.clear()


def scope_count(kind: str, company_column, company) -> Select | None:
    """The number of rows a scope of `kind` keeps (`SCOPES`), where the closure table
    holds it without reading the listed table: a subtree's companies are its closure
    rows, one per descendant (0.3 ms for a 2,000-company partner on PostgreSQL, where
    matching the companies with the subtree took 1.6 ms). None: count the rows."""
    if kind == "subtree" and company_column is Company.id:
        return select(func.count()).where(CompanyTree.ancestor_id == company)
    return None


def audience(actor: Actor, model) -> ColumnElement[bool]:
    """Rows of `model` addressed to others than the actor's kind of manager, left
    out: a customer's managers see the emails sent to them, not those their
    company's orders sent to the account managers above (a request, a
    cancellation). Applied with the company scope everywhere rows are loaded."""
    if model is Email and actor.is_customer_manager:
        # Addressed to the company's managers — not a step redirected to the account
        # managers above (a company whose partner handles its renewals).
        to_them = or_(
            Email.recipient_user_id.is_(None),
            exists().where(
                AppUser.id == Email.recipient_user_id, AppUser.company_id == Email.company_id
            ),
        )
        return and_(
            or_(
                Email.kind.in_(TO_COMPANY_MANAGERS),
                *(Email.kind.startswith(p) for p in COMPANY_STEP_KIND_PREFIXES),
            ),
            to_them,
        )
    return true()


class Screen(StrEnum):
    """The kinds of screen, each with its own rows (`screen_scope`)."""

    PARTNER = "partner"  # the Company tree: the actor's whole scope
    COMPANY = "company"  # learners, orders, emails, users, audit log
    OWN = "own"  # the license tabs and imports: one company's seats


def screen_scope(actor: Actor, company_column, screen: Screen = Screen.COMPANY):
    """The WHERE clause for a kind of screen:

    - partner screens (the Company tree) keep the actor's whole scope;
    - company screens (learners, orders, emails, users, audit log) show the actor's
      scope, or only the managed company in Manage Company mode, as its own
      manager would see it;
    - own screens (the license tabs, whose seats belong to one company) show only
      the company in view: the actor's own company, or the managed one.
    """
    kind = screen_scope_kind(actor, screen)
    if kind is None:
        return scope(actor, company_column)
    return SCOPES[kind[0]](company_column, kind[1])


def screen_scope_kind(actor: Actor, screen: Screen) -> tuple[str, int | None] | None:
    """`screen_scope` as (the kind of `SCOPES`, its company), for a statement built
    once per kind with the company a parameter; None where the actor's scope is an
    API key's, limited to a company (`scope`, built per request)."""
    if screen is Screen.OWN:
        in_view = actor.company_in_view
        return ("company", in_view) if in_view is not None else ("none", None)
    if screen is Screen.COMPANY and actor.managing_company_id:
        return "company", actor.managing_company_id
    if actor.limited_to is not None:
        return None
    return _role_scope_kind(actor)


def may_act_on(actor: Actor, company_id: int | None) -> bool:
    if company_id is None:
        return actor.is_admin and actor.limited_to is None
    if actor.is_admin and actor.limited_to is None:
        return db.session.get(Company, company_id) is not None
    clause = scope(actor, CompanyTree.descendant_id)
    return bool(
        db.session.scalar(select(exists().where(CompanyTree.descendant_id == company_id, clause)))
    )


def _descendants_among(*conditions) -> Select:
    """Which of the companies `ids` are descendants of `ancestor`: built once, the
    values parameters (a list page's row menus ask on every request)."""
    return select(CompanyTree.descendant_id).where(
        CompanyTree.ancestor_id == bindparam("ancestor"),
        CompanyTree.descendant_id.in_(bindparam("ids", expanding=True)),
        *conditions,
    )


_WITHIN, _STRICTLY_BELOW = _descendants_among(), _descendants_among(CompanyTree.depth > 0)


def strictly_below(actor: Actor, company_ids: set[int], in_scope: bool = False) -> set[int]:
    """Those of the companies strictly below the actor's own company (never its own):
    the ones whose orders it assigns and declines. `in_scope`: the companies are those
    of rows read through the actor's `scope` (a list's page), so an account manager's
    are all in its subtree, and those strictly below are the ones not its own (no
    query)."""
    if actor.limited_to is not None:
        # An API key limited to a company: strictly below the user's own company (as
        # without the limit), and within the key's company's subtree (itself included).
        company_ids = set(company_ids) & strictly_below(
            replace(actor, limited_to=None), set(company_ids)
        )
        if not company_ids:
            return set()
        params = {"ancestor": actor.limited_to, "ids": list(company_ids)}
        return company_ids & set(db.session.scalars(_WITHIN, params))
    if actor.is_admin:
        return set(company_ids)
    if in_scope and actor.is_account_manager:
        return set(company_ids) - {actor.company_id}
    if not actor.is_account_manager or not company_ids:
        return set()
    params = {"ancestor": actor.company_id, "ids": list(company_ids)}
    return set(db.session.scalars(_STRICTLY_BELOW, params))


def require_company(actor: Actor, company_id) -> Company:
    """The company, if the actor may act on it; otherwise NotFound (never a hint).
    `company_id` may come straight from a form or URL: anything but an id is 404."""
    company_id = coerce_pk(company_id) if company_id is not None else None
    if company_id is None or not may_act_on(actor, company_id):
        raise NotFound()
    return db.session.get(Company, company_id)


def require_company_in_view(
    actor: Actor, company_id, refusal: DomainError | None = None
) -> Company:
    """The company the actor works in (its own, or the one it manages), when
    `company_id` names it; otherwise `refusal`, or NotFound. Seats, orders and
    uploads belong to one company and are changed from its own screens only."""
    if not actor.works_in(coerce_pk(company_id) if company_id is not None else None):
        raise refusal or NotFound()
    return require_company(actor, company_id)


def get_in_view(actor: Actor, model, pk, *, fresh: bool = False):
    """One row of the company in view (an own screen's row: a staged selection, an
    upload) by primary key, or NotFound. `fresh` re-reads a row already loaded."""
    row = db.session.scalar(
        select(model)
        .where(
            model.__mapper__.primary_key[0] == require_pk(pk),
            screen_scope(actor, scope_column(model), Screen.OWN),
        )
        .execution_options(populate_existing=fresh)
    )
    if row is None:
        raise NotFound()
    return row


def scope_column(model):
    """The column that ties a model's rows to a company, or None if it has none."""
    if model is Company:
        return Company.id
    return getattr(model, "company_id", None)


def get_scoped(actor: Actor, model, pk, *, options=()):
    """Load one row by primary key within the actor's scope, or raise NotFound
    (`options`: the loader options of the SELECT)."""
    row = db.session.scalar(select(model).where(*_one_in_scope(actor, model, pk)).options(*options))
    if row is None:
        raise NotFound()
    return row


def require_scoped(actor: Actor, model, pk) -> None:
    """NotFound unless the row is within the actor's scope (its id alone is read,
    before any change: `app.sql.read`)."""
    if not read(select(in_scope(actor, model, pk))).scalar():
        raise NotFound()


def in_scope(actor: Actor, model, pk) -> ColumnElement[bool]:
    """Whether the row of `model` with id `pk` is within the actor's scope (an SQL
    expression, to be read with other columns)."""
    pk_column = model.__mapper__.primary_key[0]
    return exists(select(pk_column).where(*_one_in_scope(actor, model, pk)))


def _one_in_scope(actor: Actor, model, pk) -> list[ColumnElement[bool]]:
    pk_column = model.__mapper__.primary_key[0]
    return [
        pk_column == require_pk(pk),
        scope(actor, scope_column(model)),
        audience(actor, model),
    ]


MAX_ID = 2**31 - 1  # every id column is an INTEGER


def coerce_pk(value) -> int | None:
    """An integer id from a URL or form value; None for anything else (answered 404),
    ids beyond the integer columns' range included (PostgreSQL would refuse them)."""
    try:
        pk = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk <= MAX_ID else None


def require_pk(value) -> int:
    """An id from a URL or form, or NotFound."""
    pk = coerce_pk(value)
    if pk is None:
        raise NotFound()
    return pk


def get_many_scoped(actor: Actor, model, pks) -> list:
    """Load rows by primary key, all within scope, in one query; NotFound if any is not."""
    wanted = {coerce_pk(pk) for pk in pks}
    if not wanted or None in wanted:
        raise NotFound()
    pk_column = model.__mapper__.primary_key[0]
    rows = db.session.scalars(
        select(model).where(
            pk_column.in_(wanted), scope(actor, scope_column(model)), audience(actor, model)
        )
    ).all()
    if len(rows) != len(wanted):
        raise NotFound()
    return list(rows)
