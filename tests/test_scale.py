"""`flask demo scale`: an MSP-shaped tree with volume in every list, in set-based
statements (a small size here; bench/ runs it at 2,000 customers)."""

from sqlalchemy import func, select

from app import clock
from app.models import AuditEvent, Company, Email, Learner, License, Order


def test_scale_fills_every_list_of_the_partners_tree(app, session, as_user):
    from tests import factories

    result = app.test_cli_runner().invoke(
        args=[
            "demo",
            "scale",
            "--sub-partners=3",
            "--customers=12",
            "--learners=240",
            "--licenses=720",
            "--name=Tiny MSP",
        ]
    )
    assert result.exit_code == 0, result.output
    partner = session.scalar(select(Company).where(Company.name == "Tiny MSP"))
    kinds = dict(
        session.execute(
            select(Company.kind, func.count())
            .where(Company.name != "Tiny MSP")
            .group_by(Company.kind)
        ).all()
    )
    assert kinds == {"sub_partner": 3, "customer": 12}
    assert session.scalar(select(func.count()).select_from(Learner)) == 240
    assert session.scalar(select(func.count()).select_from(License)) == 720
    statuses = dict(
        session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    )
    assert statuses["assigned"] == 36 and set(statuses) == {
        "assigned",
        "requested",
        "declined",
        "cancelled",
    }
    now = clock.now()
    expired = session.scalar(select(func.count()).where(Learner.license_expires_at <= now))
    active = session.scalar(select(func.count()).where(Learner.license_expires_at > now))
    assert expired > 0 and active > 0 and expired + active == 240
    assert session.scalar(select(func.count()).select_from(Email)) == 48 + 36
    assert session.scalar(select(func.count()).select_from(AuditEvent)) >= 240 + 48 + 36

    client = as_user(factories.manager(partner, "tiny_am"))
    html = client.get("/companies/list/").get_data(as_text=True)
    assert "Record Count" in html and "Customer 1<" in html
    assert "manager@customer" in client.get("/emails/list/").get_data(as_text=True)
    # The newest events come first; which of the generated kinds they are depends on
    # the ids the database hands out (their instants are spread by id).
    audit = client.get("/audit/list/").get_data(as_text=True)
    assert any(label in audit for label in ("Learner created", "Order requested", "Order assigned"))
