"""The company tree: create, rename, move and delete companies."""

from __future__ import annotations

from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, func, insert, literal, select, true

from app import clock
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import (
    AppUser,
    Company,
    CompanyKind,
    CompanyTree,
    ImportBatch,
    ImportRow,
    Learner,
    License,
    Order,
)
from app.services import audit, orders, schedules, trials
from app.services.validation import required_text, time_zone
from app.tenancy import Actor, require_company, strictly_below, subtree_ids

AUDITED = (
    "name",
    "kind",
    "parent_id",
    "timezone",
    "auto_license",
    "partner_handles_renewals",
    "send_digest",
)


def create_company(
    actor: Actor,
    *,
    name: str,
    kind: str,
    parent_id: int | None,
    timezone: str = "UTC",
    auto_license: bool = True,
    order: NewOrder | None = None,
    trial_seats: str | None = None,
) -> Company:
    """Create a partner (platform admin only) or a sub-partner/customer under a parent
    the actor controls — with, optionally, its first order (`NewOrder`): requested
    in the same transaction, on the company's behalf, and assigned at once when the
    creator ticks "assign now" (being above it) — or a Free Trial of `trial_seats`
    seats, not both. Raises Invalid, Forbidden or NotFound."""
    kind_enum = _kind(kind)
    name = required_text(name, "name", "Name", 120)
    if kind_enum is CompanyKind.PARTNER:
        if not actor.is_admin:
            raise Forbidden("Only the platform admin can create partners.")
        if parent_id is not None:
            raise Invalid("A partner is at the top of the tree: it has no parent.", "parent")
    else:
        if parent_id is None:
            raise Invalid("Choose the partner or sub-partner it belongs to.", "parent")
        _check_parent(require_company(actor, parent_id))
    company = Company(
        name=name,
        kind=kind_enum.value,
        parent_id=parent_id,
        timezone=time_zone(timezone),
        auto_license=bool(auto_license),
        created_at=clock.now(),
    )
    db.session.add(company)
    db.session.flush()
    _link_into_tree(company.id, parent_id)
    audit.record(
        actor,
        "company.created",
        company_id=company.id,
        entity="company",
        entity_id=company.id,
        after=audit.values(company, AUDITED),
    )
    orders.grant_nfr([company.id])  # a partner's or sub-partner's own staff seats
    ordering = order is not None and not order.empty
    if str(trial_seats or "").strip():
        if ordering:
            raise Invalid(
                "Start a Free Trial or order licenses, not both: an order assigned later "
                "upgrades the trial.",
                "trial_seats",
            )
        trials.start_trial(actor, company.id, trial_seats)
    elif ordering:
        order.place(actor, company)
    return company


@dataclass(frozen=True)
class NewOrder:
    """Create Company's optional order: how many licenses, their type, the PO number,
    and whether the creator assigns it at once."""

    quantity: str | None = None
    license_type: str | None = None
    po_number: str | None = None
    assign_now: bool = False

    @property
    def empty(self) -> bool:
        if str(self.quantity or "").strip():
            return False
        if self.po_number and self.po_number.strip() or self.assign_now:
            raise Invalid(
                "Enter the number of licenses to order with the company, or leave the "
                "PO number and Assign now empty.",
                "quantity",
            )
        return True

    def place(self, actor: Actor, company: Company) -> Order:
        behalf = replace(actor, managing_company_id=company.id)
        placed = orders.request_order(
            behalf, company.id, self.quantity, self.license_type or "premium", self.po_number
        )
        if self.assign_now:
            orders.assign_orders(replace(actor, managing_company_id=None), [placed.id])
        return placed


def update_company(
    actor: Actor,
    company_id: int,
    *,
    name: str,
    timezone: str,
    auto_license: bool | None = None,
    partner_handles_renewals: bool | None = None,
    send_digest: bool | None = None,
) -> Company:
    """Rename a company, change its time zone (its orders' local expiry days follow),
    its automatic licensing of new learners, whether its partner handles its
    renewals (set by the account managers above it: its managers' reminder steps go
    to them instead), or whether a partner's account managers get the daily digest."""
    company = require_company(actor, company_id)
    before = audit.values(company, AUDITED)
    toggled = partner_handles_renewals is not None and bool(partner_handles_renewals) != bool(
        company.partner_handles_renewals
    )
    if toggled or time_zone(timezone) != company.timezone:
        schedules.before_change([company.id])  # the steps due by now: to whom they were
    if toggled:
        if company.id not in strictly_below(actor, {company.id}) or actor.managing_company_id:
            raise Forbidden(
                "Whether the partner handles a company's renewals is set by the account "
                "managers above it.",
                "partner_handles_renewals",
            )
        company.partner_handles_renewals = bool(partner_handles_renewals)
        schedules.restart([company.id])  # its steps' recipients change from now on
    if send_digest is not None and company.kind_enum.manages_others:
        company.send_digest = bool(send_digest)
    company.name = required_text(name, "name", "Name", 120)
    if time_zone(timezone) != company.timezone:
        company.timezone = time_zone(timezone)
        _redate_orders(company)
        schedules.restart([company.id])  # its groups' local days change
    if auto_license is not None:
        company.auto_license = bool(auto_license)
    db.session.flush()
    audit.record_change(actor, "company.changed", company, AUDITED, before, entity="company")
    return company


def move_company(actor: Actor, company_id: int, new_parent_id: int | None) -> Company:
    """Put a company (with everything under it) under another company the actor
    controls. Never under itself or its own descendant; never the actor's own company."""
    company = require_company(actor, company_id)
    if new_parent_id == company.parent_id:
        return company
    if company.kind_enum is CompanyKind.PARTNER:
        raise Invalid("A partner is at the top of the tree and cannot be moved.", "parent")
    if company.id == actor.company_id:
        raise Forbidden("You cannot move your own company.")
    if new_parent_id is None:
        raise Invalid("Choose the partner or sub-partner to move it under.", "parent")
    parent = require_company(actor, new_parent_id)
    _check_parent(parent)
    if _is_in_subtree(parent.id, company.id):
        raise Invalid(
            f"'{company.name}' cannot be moved under '{parent.name}', which is inside it.",
            "parent",
        )
    before = {"parent": company.parent.name if company.parent else None}
    moved = db.session.scalars(subtree_ids(company.id)).all()
    schedules.before_change(moved)
    _relink_subtree(company.id, parent.id)
    company.parent_id = parent.id
    db.session.flush()
    # Its subtree's schedules and account managers may change: from now on.
    schedules.restart(moved)
    audit.record(
        actor,
        "company.moved",
        company_id=company.id,
        entity="company",
        entity_id=company.id,
        before=before,
        after={"parent": parent.name},
    )
    return company


def delete_company(actor: Actor, company_id: int) -> None:
    """Delete an empty company. Refused while it has companies, managers, learners or
    orders (its unused NFR grants aside): nothing is orphaned or silently cascaded."""
    company = require_company(actor, company_id)
    if company.id == actor.company_id:
        raise Forbidden("You cannot delete your own company.")
    blockers = _delete_blockers(company.id)
    if blockers:
        raise Invalid(
            f"'{company.name}' cannot be deleted while it has {', '.join(blockers)}. "
            "Move or remove them first."
        )
    audit.record(
        actor,
        "company.deleted",
        company_id=company.parent_id,
        entity="company",
        entity_id=company.id,
        before=audit.values(company, AUDITED),
    )
    # Its NFR grants go with it while nobody ever held one of their seats.
    db.session.execute(delete(Order).where(_unused_grant(company.id)))
    # Its uploads go by the key's cascade; their staged rows (import_rows has no
    # foreign key: see the model) are deleted here.
    uploads = select(ImportBatch.id).where(ImportBatch.company_id == company.id)
    db.session.execute(delete(ImportRow).where(ImportRow.batch_id.in_(uploads)))
    db.session.execute(delete(CompanyTree).where(CompanyTree.descendant_id == company.id))
    db.session.delete(company)
    db.session.flush()


def _unused_grant(company_id: int):
    return and_(
        Order.company_id == company_id,
        Order.granted,
        Order.allocated == 0,
        ~exists().where(License.order_id == Order.id),
    )


def _redate_orders(company: Company) -> None:
    """The local expiry day of each assigned order, in the company's new time zone."""
    zone = ZoneInfo(company.timezone)
    for order in db.session.scalars(
        select(Order).where(Order.company_id == company.id, Order.expires_at.is_not(None))
    ):
        order.expires_on = order.expires_at.astimezone(zone).date()


def kind_choices(actor: Actor) -> list[tuple[str, str]]:
    kinds = [CompanyKind.SUB_PARTNER, CompanyKind.CUSTOMER]
    if actor.is_admin:
        kinds.insert(0, CompanyKind.PARTNER)
    return [(k.value, k.label) for k in kinds]


def _kind(value: str) -> CompanyKind:
    try:
        return CompanyKind(value)
    except ValueError as exc:
        raise Invalid("Kind must be partner, sub-partner or customer.", "kind") from exc


def _check_parent(parent: Company) -> None:
    if not parent.kind_enum.manages_others:
        raise Invalid(
            f"'{parent.name}' is a customer: companies go under a partner or sub-partner.",
            "parent",
        )


def _is_in_subtree(company_id: int, root_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    CompanyTree.ancestor_id == root_id,
                    CompanyTree.descendant_id == company_id,
                )
            )
        )
    )


def _link_into_tree(company_id: int, parent_id: int | None) -> None:
    rows = [{"ancestor_id": company_id, "descendant_id": company_id, "depth": 0}]
    db.session.execute(insert(CompanyTree), rows)
    if parent_id is not None:
        db.session.execute(
            insert(CompanyTree).from_select(
                ["ancestor_id", "descendant_id", "depth"],
                select(
                    CompanyTree.ancestor_id,
                    literal(company_id),
                    CompanyTree.depth + 1,
                ).where(CompanyTree.descendant_id == parent_id),
            )
        )


def _relink_subtree(root_id: int, new_parent_id: int) -> None:
    """Closure-table move: drop the links from outside ancestors into the subtree,
    then link every new ancestor to every member, in two statements."""
    members = subtree_ids(root_id)
    db.session.execute(
        delete(CompanyTree)
        .where(CompanyTree.descendant_id.in_(members))
        .where(CompanyTree.ancestor_id.not_in(members))
        .execution_options(synchronize_session=False)
    )
    above = select(CompanyTree).where(CompanyTree.descendant_id == new_parent_id).subquery()
    below = select(CompanyTree).where(CompanyTree.ancestor_id == root_id).subquery()
    db.session.execute(
        insert(CompanyTree).from_select(
            ["ancestor_id", "descendant_id", "depth"],
            select(above.c.ancestor_id, below.c.descendant_id, above.c.depth + below.c.depth + 1)
            .select_from(above)
            .join(below, true()),  # every new ancestor x every member
        )
    )


def _delete_blockers(company_id: int) -> list[str]:
    counts = [
        ("companies", select(func.count()).where(Company.parent_id == company_id)),
        ("managers", select(func.count()).where(AppUser.company_id == company_id)),
        ("learners", select(func.count()).where(Learner.company_id == company_id)),
        (
            "orders",
            select(func.count()).where(Order.company_id == company_id, ~_unused_grant(company_id)),
        ),
    ]
    found = []
    for label, query in counts:
        n = db.session.scalar(query)
        if n:
            found.append(f"{n} {label}")
    return found
