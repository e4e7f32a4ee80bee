"""The Audit Log screen: scoped, filterable, exported with neutralised cells."""

import csv
import io
import os
import re

from openpyxl import load_workbook

from app.services.learners import add_learner


def test_each_manager_sees_the_events_of_its_companies(tree, as_user, session):
    add_learner(
        tree.actor("other_customer"),
        tree.other_customer.id,
        email="q@c3.example.com",
        first_name="Q",
        last_name="R",
    )
    session.commit()
    html = (
        as_user(tree.users["customer"])
        .get("/audit/list/?psize_AuditLogView=100")
        .get_data(as_text=True)
    )
    assert "Customer C1" in html and "Customer C3" not in html
    html = as_user(tree.users["other_partner"]).get("/audit/list/").get_data(as_text=True)
    assert "Customer C3" in html and "Customer C1" not in html


def test_the_log_filters_by_action(tree, as_user):
    client = as_user(tree.users["partner"])
    html = client.get("/audit/list/?_flt_0_action=company.created&psize_AuditLogView=100").get_data(
        as_text=True
    )
    assert "Company created" in html and "Learner added" not in html


def test_exports_neutralise_cells_a_spreadsheet_would_run(tree, as_user, session):
    add_learner(
        tree.actor("customer"),
        tree.customer.id,
        email="eve@acme.example.com",
        first_name='=HYPERLINK("http://evil")',
        last_name="+1-2",
        department="@SUM(A1)",
    )
    session.commit()
    client = as_user(tree.users["customer"])
    response = client.get("/audit/export/csv?_flt_0_action=learner.added")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["When (UTC)", "Action", "Who"]
    eve = next(r for r in rows if "eve@acme.example.com" in r[-1])
    assert eve[1] == "learner.added" and '"first_name": "=HYPERLINK' in eve[-1]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    response = client.get("/audit/export/xlsx?_flt_0_action=learner.added")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("eve@acme.example.com" in str(v) for v in values)
    assert all(not str(v).startswith(("=", "+", "-", "@")) for v in values)
    assert "Customer C3" not in str(values)


def test_neutralise_prefixes_every_formula_start():
    from app.exports import neutralise

    for risky in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert neutralise(risky) == "'" + risky
    assert neutralise("plain") == "plain" and neutralise(5) == 5


def test_streamed_csv_downloads_give_their_connection_back_read_or_cut_off(
    committed_app, db_kind, tmp_path
):
    """200 downloads of the Audit Log CSV from one gunicorn worker, every third one
    cut off after its first chunk: each is served (a leaked connection would exhaust
    the pool of 15 and hang the next request), and none is left in a transaction."""
    import sys

    from sqlalchemy import text

    from app.extensions import db
    from tests import factories
    from tests.servers import PanelSession, free_port, wait_until_up
    from tests.stack import start

    app, url = committed_app()
    tree = factories.build_tree(learners_per_company=0)
    factories.learners(tree.customer, 520)  # an export of two chunks (500 rows each)
    db.session.commit()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "export-test",
        "LOGIN_THROTTLE": "0",
        "APP_ENV": "test",
    }
    server = start(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "run:app"],
        env,
        tmp_path / "gunicorn.log",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server, log=tmp_path / "gunicorn.log")
        customer = PanelSession(base).sign_in("customer_cm", factories.PASSWORD)
        for n in range(200):
            with customer.opener.open(base + "/audit/export/csv", timeout=10) as response:
                if n % 3 == 0:
                    assert response.read(200).startswith(b"When (UTC),Action")
                else:
                    assert response.read().count(b"\n") > 520
        if db_kind == "postgresql":
            stuck = db.session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                )
            )
            assert stuck == 0
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_long_log_counts_up_to_its_cap_and_a_filter_counts_exactly(
    tree, as_user, session, monkeypatch
):
    from app.views.audit import AuditLogView

    client = as_user(tree.users["partner"])
    exact = client.get("/audit/list/").get_data(as_text=True)
    total = int(re.search(r"Record Count:</strong>\s*([\d,]+)", exact)[1].replace(",", ""))
    assert total > 6  # the tree's companies, people and managers
    monkeypatch.setattr(AuditLogView.datamodel, "count_cap", 5)
    html = client.get("/audit/list/").get_data(as_text=True)
    assert re.search(r"Record Count:</strong>\s*5\+", html)
    assert "Learner added" in html  # the page still lists its rows
    narrowed = client.get("/audit/list/?_flt_0_action=company.created").get_data(as_text=True)
    created = int(re.search(r"Record Count:</strong>\s*([\d,]+)<", narrowed)[1])
    assert created == 4  # P, S, C1, C2: under the cap, counted exactly


def test_a_log_past_its_cap_is_not_recounted_for_a_minute_but_its_rows_are_live(
    tree, as_user, session, monkeypatch
):
    """Past its cap, a viewer's log is remembered as "5+" for OVER_CAP_SECONDS: the next
    page skips the count, not the rows (a new event shows at once); a filter, another
    partner's manager (the same statement, another company) and an expired memory
    count again."""
    from sqlalchemy import event

    from app.extensions import db
    from app.views import base
    from app.views.audit import AuditLogView

    pattern = r"Record Count:</strong>\s*([\d,]+\+?)<"
    # The list's statements are built once per shape, with the cap of that moment: build
    # them at the real cap first, as the other tests of the cap do.
    as_user(tree.users["partner"]).get("/audit/list/")
    monkeypatch.setattr(AuditLogView.datamodel, "count_cap", 5)
    counts = []

    def record(conn, cursor, statement, *args):
        if statement.startswith("SELECT count(*)") and "FROM audit_events" in statement:
            counts.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        partner = as_user(tree.users["partner"])
        before = partner.get("/audit/list/").text
        assert re.search(pattern, before)[1] == "5+" and len(counts) == 1
        add_learner(
            tree.actor("customer"),
            tree.customer.id,
            email="n@c1.example.com",
            first_name="Newest",
            last_name="Person",
        )
        session.commit()
        html = partner.get("/audit/list/").text
        assert len(counts) == 1  # remembered: no count
        assert re.search(pattern, html)[1] == "5+"
        newest = re.findall(r'<tr data-pk="(\d+)"', html)[0]
        assert int(newest) > int(re.findall(r'<tr data-pk="(\d+)"', before)[0])  # live rows
        narrowed = partner.get("/audit/list/?_flt_0_action=company.created").text
        assert re.search(pattern, narrowed)[1] == "4" and len(counts) == 2
        as_user(tree.users["other_partner"]).get("/audit/list/")
        assert len(counts) == 3  # the same statement for another company: counted
        partner = as_user(tree.users["partner"])
        partner.get("/audit/list/")
        assert len(counts) == 3  # the partner's still remembered
        monkeypatch.setattr(base, "OVER_CAP_SECONDS", -1)  # the memory expires
        base.forget_counts()
        partner.get("/audit/list/")
        partner.get("/audit/list/")
        assert len(counts) == 5
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_long_log_lists_the_same_rows_in_order_when_read_in_its_index(
    tree, as_user, monkeypatch, db_kind
):
    """Past its cap the log is read through its order's index (SQLite's INDEXED BY):
    the same rows, newest first, page after page."""
    from sqlalchemy import event

    from app.extensions import db
    from app.views.audit import AuditLogView

    client = as_user(tree.users["partner"])

    def pages():
        return [
            re.findall(
                r'<tr data-pk="(\d+)"',
                client.get(f"/audit/list/?psize_AuditLogView=5&page_AuditLogView={n}").text,
            )
            for n in (0, 1, 2)
        ]

    ordered = pages()
    assert all(len(page) == 5 for page in ordered)
    assert len({pk for page in ordered for pk in page}) == 15
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    monkeypatch.setattr(AuditLogView.datamodel, "count_cap", 5)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert pages() == ordered
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    hinted = [s for s in seen if "INDEXED BY ix_audit_events_at_id" in s]
    assert len(hinted) == (3 if db_kind == "sqlite" else 0)
