"""License orders: requested by a company, assigned (or declined/cancelled) above it.

An assigned order is a pool of `quantity` seats sharing one expiry instant.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.models.company import Company
from app.models.types import UTCDateTime
from app.models.user import AppUser


class OrderStatus(enum.StrEnum):
    REQUESTED = "requested"
    ASSIGNED = "assigned"
    DECLINED = "declined"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.title()


class LicenseType(enum.StrEnum):
    """The client's license types (product.md, "The client's license model")."""

    PREMIUM = "premium"
    MANAGED = "managed"
    TRIAL = "trial"
    NFR = "nfr"

    @property
    def label(self) -> str:
        return _TYPE_LABELS[self]


_TYPE_LABELS = {
    LicenseType.PREMIUM: "Premium",
    LicenseType.MANAGED: "Managed",
    LicenseType.TRIAL: "Free Trial",
    LicenseType.NFR: "NFR",
}
# The types a company pays for: its default seats, and what a top-up co-terms with.
PAID_TYPES = (LicenseType.PREMIUM.value, LicenseType.MANAGED.value)
TYPE_CHECK = "license_type IN ('premium', 'managed', 'trial', 'nfr')"


def type_label(value: str | None) -> str:
    """A stored type as people read it ("—" when there is none)."""
    return LicenseType(value).label if value else "—"


class Order(Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_orders_quantity_positive"),
        CheckConstraint(
            "allocated >= 0 AND allocated <= quantity", name="ck_orders_allocated_in_range"
        ),
        CheckConstraint(
            "status IN ('requested', 'assigned', 'declined', 'cancelled')",
            name="ck_orders_status",
        ),
        CheckConstraint(TYPE_CHECK, name="ck_orders_license_type"),
        Index("ix_orders_company_status", "company_id", "status", "requested_at"),
        Index("ix_orders_status_requested_at", "status", "requested_at", "id"),
        Index("ix_orders_requested_by", "requested_by_id"),
        # By expiry, carrying what the reminder planning groups its window's orders by:
        # it reads them from the index alone.
        Index(
            "ix_orders_expires_at",
            "expires_at",
            "status",
            "company_id",
            "expires_on",
            "license_type",
            "id",
        ),
        # One NFR grant per company and expiry day: two granting runs at once make one.
        Index(
            "ux_orders_nfr_grant",
            "company_id",
            "expires_on",
            unique=True,
            sqlite_where=text("granted = 1"),
            postgresql_where=text("granted"),
        ),
        Index("ux_orders_upgrade_token", "upgrade_token", unique=True),
        # One Free Trial per company, ever.
        Index(
            "ux_orders_trial",
            "company_id",
            unique=True,
            sqlite_where=text("license_type = 'trial'"),
            postgresql_where=text("license_type = 'trial'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT", name="fk_orders_company_id")
    )
    quantity: Mapped[int] = mapped_column(Integer)
    # Seats of this pool held by people; changed only by conditional updates that
    # keep it within the quantity (services/licenses.py).
    allocated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Every seat of a pool is of its type; licenses copy it.
    license_type: Mapped[str] = mapped_column(
        String(16), default=LicenseType.PREMIUM.value, server_default=LicenseType.PREMIUM.value
    )
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.REQUESTED.value)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_orders_requested_by")
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_orders_assigned_by")
    )
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The license term, fixed at assignment: an instant, and the day it falls on in
    # the company's time zone (so grouping by local day is plain SQL on SQLite too).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_on: Mapped[date | None] = mapped_column(Date)
    closed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_orders_closed_by")
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(500))
    # The customer's purchase order number, if any (shown, filtered, in the emails).
    po_number: Mapped[str | None] = mapped_column(String(64))
    # Co-terming: the pool whose expiry this order's seats take at assignment.
    coterm_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL", name="fk_orders_coterm_order_id")
    )
    # An NFR grant: the platform's NFR seats for a partner's or sub-partner's staff.
    granted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Partial approval: the declined remainder names the order it was split from.
    split_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL", name="fk_orders_split_from_id")
    )
    # A renewal request ("Request renewal for these N people"): it remembers its
    # people (OrderPerson), and at assignment its seats go to them.
    renewal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # A Free Trial ended early by its upgrade (a paid order assigned): its seats no
    # longer count; the people not moved keep their trial licenses to their end.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A request made with an Upgrade Now link: the SHA-256 of the link's token, so
    # each link makes one request, ever (services/trials.py).
    upgrade_token: Mapped[str | None] = mapped_column(String(64))

    company: Mapped[Company] = relationship(Company, lazy="selectin")
    requested_by: Mapped[AppUser | None] = relationship(
        AppUser, foreign_keys=[requested_by_id], lazy="selectin"
    )
    assigned_by: Mapped[AppUser | None] = relationship(
        AppUser, foreign_keys=[assigned_by_id], lazy="selectin"
    )
    closed_by: Mapped[AppUser | None] = relationship(
        AppUser, foreign_keys=[closed_by_id], lazy="selectin"
    )
    coterm_order: Mapped[Order | None] = relationship(
        "Order", remote_side="Order.id", foreign_keys=[coterm_order_id], lazy="select"
    )

    @property
    def status_label(self) -> str:
        """The status as people read it: an assigned order past its term reads
        "Expired" (its seats no longer count), not "Assigned"."""
        if self.status == OrderStatus.ASSIGNED and self.ended_at is not None:
            return "Upgraded"
        if (
            self.status == OrderStatus.ASSIGNED
            and self.expires_at
            and self.expires_at <= clock.now()
        ):
            return "Expired"
        return OrderStatus(self.status).label

    @property
    def type_label(self) -> str:
        return type_label(self.license_type)

    @property
    def free(self) -> int:
        return self.quantity - (self.allocated or 0)

    @property
    def number(self) -> str:
        return order_number(self.id)

    def __repr__(self) -> str:
        return f"Order #{self.id}"


class OrderPerson(Model):
    """A person a renewal request was made for, and what its assignment did for them.

    `pending` is true while the order is requested: a unique index over the pending
    rows lets a person be in one open renewal request at a time, decided by the
    database under any concurrency. `expires_then` is the person's license expiry
    when the request was made: at assignment, a person still holding that license (or
    one ending no later) is renewed — it ends, its seat returns to its pool — while
    one holding a later license was renewed by other means meanwhile and keeps it.
    """

    __tablename__ = "order_people"
    __table_args__ = (
        Index(
            "ux_order_people_pending",
            "learner_id",
            unique=True,
            sqlite_where=text("pending = 1"),
            postgresql_where=text("pending"),
        ),
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('licensed', 'renewed', 'deactivated', 'kept')",
            name="ck_order_people_outcome",
        ),
    )

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE", name="fk_order_people_order_id"),
        primary_key=True,
    )
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="RESTRICT", name="fk_order_people_learner_id"),
        primary_key=True,
    )
    expires_then: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pending: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set at assignment: licensed (had no active license), renewed (at assignment:
    # the license held at request ended), deactivated or kept (renewed by other
    # means meanwhile) — the last two leave their seat free.
    outcome: Mapped[str | None] = mapped_column(String(16))


def order_number(order_id: int) -> str:
    """How people name an order: "#12"."""
    return f"#{order_id}"
