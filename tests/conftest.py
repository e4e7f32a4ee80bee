"""Fixtures: one app per run on SQLite or PostgreSQL (`--db`), migrated from empty;
a transaction rolled back after every test; a login helper; company trees."""

from __future__ import annotations

import os
import re

import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from jinja2 import StrictUndefined

os.environ.setdefault("SECRET_KEY", "test-secret-key")

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.tenancy import forget_widths  # noqa: E402
from app.views.base import forget_counts  # noqa: E402
from tests import factories  # noqa: E402
from tests.settings import create_pg_database, drop_pg_database, make_config  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default=os.environ.get("TEST_DB", "sqlite"),
        help="database the suite runs against",
    )
    parser.addoption(
        "--screenshots-dir",
        default=None,
        help="where tests/e2e/test_screenshots.py writes the main screens (make screenshots)",
    )


LAYERS = {
    "services": "service",
    "views": "view",
    "jobs": "job",
    "imports": "import",
    "soak": "soak",
    "api": "api",
}


def _layer(nodeid: str) -> str:
    parts = nodeid.split("::")[0].split("/")
    if len(parts) > 2 and parts[1] == "e2e":
        return "browser"
    return LAYERS.get(parts[1], "unit") if len(parts) > 2 else "unit"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line with the counts per layer (unit, service, view, api, job, import, browser)."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if not getattr(report, "nodeid", "") or (outcome == "passed" and report.when != "call"):
                continue
            layer = counts.setdefault(_layer(report.nodeid), {})
            layer[outcome] = layer.get(outcome, 0) + 1
    order = ["unit", "service", "view", "api", "job", "import", "browser", "soak"]
    parts = []
    for name in order:
        if name in counts:
            done = ", ".join(f"{n} {outcome}" for outcome, n in counts[name].items())
            parts.append(f"{name}: {done}")
    db = config.getoption("--db")
    terminalreporter.write_line(f"per layer ({db}) — " + " · ".join(parts), bold=True)
    from tests.e2e import axe

    if axe.CHECKED:
        terminalreporter.write_line(f"axe-core ({db}), per page — violations by impact:")
        for line in axe.summary():
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    """Tests marked postgresql_only are deselected on the SQLite run."""
    if config.getoption("--db") != "sqlite":
        return
    dropped = [item for item in items if item.get_closest_marker("postgresql_only")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def pytest_report_header(config):
    return f"database: {config.getoption('--db')}"


@pytest.fixture(scope="session")
def db_kind(request) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def database_url(db_kind, tmp_path_factory):
    """A throwaway database for this run."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    name, url = create_pg_database()
    yield url
    drop_pg_database(name)


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (and so its own `g`, Flask-Login user
    and database session), as in production, even though the test holds one open."""

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        kwargs.setdefault("buffered", True)  # streamed bodies finish inside the context
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app(make_config(database_url))
    app.jinja_env.undefined = StrictUndefined
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def session(app):
    """Every database session of this test (the test's and each request's) runs
    inside one outer transaction, rolled back at the end."""
    # Process state about the data, which is rolled back: a log's "past its cap", a
    # subtree's width.
    forget_counts()
    forget_widths()
    with app.app_context():
        engines = db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        connection.begin_nested()
        engines[None] = connection
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        try:
            yield db.session
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()


@pytest.fixture
def tree(session):
    tree = factories.build_tree()
    session.commit()
    return tree


@pytest.fixture
def client(app, session):
    return app.test_client()


def login(client, user) -> None:
    """Sign in as `user`: a server-side session and Flask-Login's cookie keys naming it
    (the login form has its own tests)."""
    from app.services import sessions

    token = sessions.start(user)
    db.session.commit()
    with client.session_transaction() as sess:
        sess.clear()
        sess["_user_id"] = token
        sess["_fresh"] = True


def csrf_token(client) -> str:
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "the layout carries a CSRF token"
    return match.group(1)


@pytest.fixture
def as_user(client):
    """`as_user(user)` signs the test client in and returns it with its CSRF token."""

    def sign_in(user):
        login(client, user)
        client.csrf = csrf_token(client)
        return client

    return sign_in


@pytest.fixture
def smtp(app):
    """A loopback SMTP server; the app sends to it for the duration of the test."""
    from tests.smtp import SmtpServer

    with SmtpServer() as server:
        saved = {k: app.config.get(k) for k in server.config}
        app.config.update(server.config)
        mail_state = app.extensions["mail"]
        saved_state = dict(vars(mail_state))
        for key, value in (
            ("server", "127.0.0.1"),
            ("port", server.port),
            ("suppress", False),
            ("use_tls", False),
            ("use_ssl", False),
        ):
            setattr(mail_state, key, value)
        try:
            yield server.mailbox
        finally:
            app.config.update(saved)
            vars(mail_state).update(saved_state)


@pytest.fixture
def committed_app(db_kind, tmp_path):
    """`committed_app(**config)`: an app on a fresh database of its own, migrated,
    with an app context pushed, for tests whose data must really be committed
    (other processes, concurrent threads). Dropped afterwards."""
    made = []

    def build(**overrides):
        pg_name = None
        if db_kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'committed{len(made)}.db'}"
        else:
            pg_name, url = create_pg_database("licpanel_committed")
        app = create_app(make_config(url, **overrides))
        context = app.app_context()
        context.push()
        upgrade()
        made.append((context, pg_name))
        return app, url

    yield build
    for context, pg_name in reversed(made):
        db.session.remove()
        db.engine.dispose()
        context.pop()
        if pg_name:
            drop_pg_database(pg_name)


@pytest.fixture
def stack_env(db_kind, tmp_path):
    """`(env, url, mailbox)`: the environment of a fresh `make run` (no REDIS_URL:
    the embedded queue) on a database, port and folder of its own, its mail
    captured by a loopback SMTP server (tests/stack.py)."""
    from tests.servers import free_port
    from tests.smtp import SmtpServer
    from tests.stack import stack_environment

    pg_name = None
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'panel.db'}"
    else:
        pg_name, url = create_pg_database("licpanel_stack")
    port = free_port()
    with SmtpServer() as smtp:
        yield (
            stack_environment(url, port, smtp.port, tmp_path),
            f"http://127.0.0.1:{port}",
            (smtp.mailbox),
        )
    if pg_name:
        drop_pg_database(pg_name)
