"""Operator commands: `flask setup`, `flask demo load`, `flask clock ...`."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from flask_migrate import upgrade

from app import clock
from app.errors import DomainError
from app.transaction import transaction


def register_commands(app: Flask) -> None:
    app.cli.add_command(setup)
    app.cli.add_command(demo)
    app.cli.add_command(clock_group)
    app.cli.add_command(emails_group)
    app.cli.add_command(licenses_group)
    app.cli.add_command(reminders_group)
    app.cli.add_command(schedules_group)
    app.cli.add_command(uploads_group)
    app.cli.add_command(backup)
    app.cli.add_command(api_keys_group)
    app.cli.add_command(webhooks_group)


@click.command("setup")
@click.option(
    "--demo/--no-demo",
    "with_demo",
    default=False,
    help="also load the demo data (only into an empty database, never in production)",
)
def setup(with_demo: bool) -> None:
    """Apply the migrations (the only way the schema changes). In production, make
    sure a platform admin exists (asked for on the terminal the first time);
    elsewhere, optionally load the demo."""
    upgrade()
    click.echo("Database is up to date.")
    _grant_nfr()
    if _production():
        if with_demo:
            click.echo("APP_ENV=production: the demo data is not loaded.")
        _ensure_first_admin()
    elif with_demo:
        _load_demo()


def _grant_nfr() -> None:
    """Partners and sub-partners created before NFR grants existed get theirs (the
    service, not the migration: it needs the settings and the audit trail)."""
    from app.services.orders import grant_nfr

    with transaction():
        granted = grant_nfr()
    if granted:
        click.echo(f"Granted NFR seats to {len(granted)} partners and sub-partners.")


def _production() -> bool:
    return current_app.config.get("APP_ENV") == "production"


def _ensure_first_admin() -> None:
    """Ask for the first platform admin (or read ADMIN_USERNAME, ADMIN_EMAIL and
    ADMIN_PASSWORD) when there is none yet."""
    from app.services.managers import create_platform_admin, has_platform_admin
    from app.services.passwords import MIN_LENGTH
    from app.tenancy import system_actor

    with transaction():
        if has_platform_admin():
            return
    environ = os.environ
    if all(environ.get(k) for k in ("ADMIN_USERNAME", "ADMIN_EMAIL", "ADMIN_PASSWORD")):
        username, email = environ["ADMIN_USERNAME"], environ["ADMIN_EMAIL"]
        password = environ["ADMIN_PASSWORD"]
    else:
        username, email, password = _ask_for_admin(MIN_LENGTH)
    try:
        with transaction():
            create_platform_admin(
                system_actor("cli"),
                username=username,
                first_name="Platform",
                last_name="Admin",
                email=email,
                password=password,
            )
    except DomainError as exc:
        raise click.ClickException(f"{exc.message} No admin was created.") from exc
    click.echo(f"Platform admin {username!r} created: sign in with it.")


def _ask_for_admin(min_length: int) -> tuple[str, str, str]:
    click.echo("No platform admin yet: create the first one.")
    try:
        return (
            click.prompt("Username"),
            click.prompt("Email"),
            click.prompt(
                f"Password (at least {min_length} characters)",
                hide_input=True,
                confirmation_prompt=True,
            ),
        )
    except click.Abort as exc:  # no terminal to ask on (a service, a pipe)
        raise click.ClickException(
            "No platform admin yet. Run `flask setup` (or `make run`) in a terminal to "
            "create one, or set ADMIN_USERNAME, ADMIN_EMAIL and ADMIN_PASSWORD."
        ) from exc


@click.group("demo")
def demo() -> None:
    """Demo data."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo tree and users (idempotent: a second run adds nothing)."""
    _load_demo()


def _load_demo() -> None:
    from app.demo import DEMO_USERS, default_password, load_demo

    password = os.environ.get("DEMO_PASSWORD") or default_password()
    with transaction():
        outcome = load_demo(password)
    if outcome == "refused":
        click.echo("The database already holds companies or users: the demo is not loaded.")
        return
    click.echo("Demo data loaded." if outcome == "loaded" else "Demo data already present.")
    click.echo("Demo logins (password from DEMO_PASSWORD, default shown):")
    for username, role, company in DEMO_USERS:
        click.echo(f"  {username:<13} {password}   {role}{f' of {company}' if company else ''}")


@demo.command("scale")
@click.option("--sub-partners", default=20, show_default=True)
@click.option("--customers", default=2000, show_default=True)
@click.option("--learners", default=200_000, show_default=True)
@click.option("--licenses", default=1_000_000, show_default=True)
@click.option("--name", default="Scale MSP", show_default=True, help="the partner's name")
def demo_scale(sub_partners, customers, learners, licenses, name) -> None:
    """Fill the database with an MSP-sized tree in set-based statements."""
    import time

    from app.scale import Scale, generate, summary

    started = time.perf_counter()
    with transaction():
        generate(Scale(sub_partners, customers, learners, licenses), name)
    click.echo(f"generated in {time.perf_counter() - started:.1f}s: {summary()}")


@click.group("clock")
def clock_group() -> None:
    """The application's clock (shifted only outside production)."""


@clock_group.command("show")
def clock_show() -> None:
    click.echo(f"now={clock.now().isoformat()} offset={clock.offset()}")


@clock_group.command("shift")
@click.argument("hours", type=float)
def clock_shift(hours: float) -> None:
    """Set the clock HOURS ahead of real time for every process (0 resets it).
    Refused in production."""
    if _production():
        raise click.ClickException("The clock cannot be shifted in production.")
    with transaction():
        clock.set_offset(timedelta(hours=hours))
    click.echo(f"now={clock.now().isoformat()}")


@click.group("emails")
def emails_group() -> None:
    """The outbox."""


@emails_group.command("dispatch")
def emails_dispatch() -> None:
    """Enqueue every due email (pending, or retrying and due) for the worker."""
    from app.jobs.dispatch import enqueue_emails
    from app.services.emails import due_ids

    click.echo(f"enqueued {enqueue_emails(due_ids(clock.now()))} email(s)")


@emails_group.command("send-due")
def emails_send_due() -> None:
    """Send every due email from this process (no worker needed)."""
    from app.jobs.emails import send_due

    click.echo(", ".join(f"{n} {state}" for state, n in send_due().items()) or "nothing due")


@click.group("webhooks")
def webhooks_group() -> None:
    """Webhook deliveries."""


@webhooks_group.command("deliver-due")
def webhooks_deliver_due() -> None:
    """Attempt every due webhook delivery from this process (no worker needed)."""
    from app.jobs.webhooks import deliver_due

    click.echo(", ".join(f"{n} {state}" for state, n in deliver_due().items()) or "nothing due")


class Instant(click.ParamType):
    """--at TIMESTAMP: an ISO 8601 instant (naive means UTC). In production it may
    not be later than now (catching up after an outage, never running ahead)."""

    name = "timestamp"

    def convert(self, value, param, ctx):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-11-26T09:00:00Z)")
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        if current_app.config.get("APP_ENV") == "production" and at > clock.real_now():
            self.fail("in production --at may not be later than now")
        return at.astimezone(UTC)


AT = click.option(
    "--at",
    type=Instant(),
    default=None,
    help="act as of this instant (default: the application's clock)",
)


def _iso(at) -> str | None:
    return at.isoformat() if at else None


@click.group("licenses")
def licenses_group() -> None:
    """Licenses."""


@licenses_group.command("sweep")
@AT
def licenses_sweep(at) -> None:
    """Record each license's transition to Expired (once) in the audit trail."""
    from app.jobs.periodic import sweep_expiries

    click.echo(f"recorded {sweep_expiries(_iso(at))} expired license(s)")


@click.group("reminders")
def reminders_group() -> None:
    """The 72-hour reminders, the expiry-day notices and the daily digest."""


@reminders_group.command("send")
@AT
def reminders_send(at) -> None:
    """Plan the reminders and notices due, then send every due email from here."""
    from app.jobs.emails import send_due
    from app.jobs.periodic import plan_expiry_emails

    click.echo(f"planned {plan_expiry_emails(_iso(at))} email(s)")
    outcomes = send_due()
    click.echo(", ".join(f"{n} {state}" for state, n in outcomes.items()) or "nothing to send")


@reminders_group.command("digest")
@AT
def reminders_digest(at) -> None:
    """Plan the account managers' daily digest."""
    from app.jobs.periodic import plan_digest

    click.echo(f"planned {plan_digest(_iso(at))} digest(s)")


@click.group("schedules")
def schedules_group() -> None:
    """Reminder schedules: show, set or clear a company's (audited as the CLI)."""


@schedules_group.command("show")
@click.argument("company_id", type=int)
def schedules_show(company_id: int) -> None:
    """The company's effective schedule and where it comes from."""
    from app.tenancy import require_company

    _echo_schedule(
        _schedule_work(lambda s, actor: s.effective(require_company(actor, company_id).id))
    )


@schedules_group.command("set")
@click.argument("company_id", type=int)
@click.argument("steps", nargs=-1, required=True)
def schedules_set(company_id: int, steps: tuple[str, ...]) -> None:
    """Give the company (and the companies under it without their own) a schedule:
    STEPS like before-30d before-72h after-0 after-7d, each optionally :AUDIENCE."""
    _echo_schedule(
        _schedule_work(
            lambda s, actor: s.set_schedule(actor, company_id, [s.parse_step(t) for t in steps])
        )
    )


@schedules_group.command("clear")
@click.argument("company_id", type=int)
def schedules_clear(company_id: int) -> None:
    """The company uses the schedule above it again (or the platform default)."""
    _echo_schedule(_schedule_work(lambda s, actor: s.clear_schedule(actor, company_id)))


def _schedule_work(work):
    from app.services import schedules
    from app.tenancy import system_actor

    try:
        with transaction():
            return work(schedules, system_actor("cli"))
    except DomainError as exc:
        raise click.ClickException(exc.message or "Not found.") from exc


def _echo_schedule(found) -> None:
    from app.services.schedules import key_label, key_of

    click.echo(f"from: {found.source.name if found.source else 'the platform default'}")
    for step in found.steps:
        click.echo(f"  {key_of(step):<12} {key_label(key_of(step)):<18} {step.audience.label}")


@emails_group.command("recover")
@AT
def emails_recover(at) -> None:
    """Rows left sending by a stopped worker become needs-attention."""
    from app.jobs.periodic import recover_stuck_emails

    click.echo(f"{recover_stuck_emails(_iso(at))} email(s) need attention")


@click.group("uploads")
def uploads_group() -> None:
    """Uploaded spreadsheets."""


@uploads_group.command("clean")
@AT
def uploads_clean(at) -> None:
    """Delete uploads older than 24 hours."""
    from app.jobs.periodic import discard_stale_uploads

    click.echo(f"discarded {discard_stale_uploads(_iso(at))} upload(s)")


@click.command("backup")
@click.argument("folder", type=click.Path(file_okay=False, writable=True))
def backup(folder: str) -> None:
    """Back up the database and the uploads folder into FOLDER (made if missing):
    SQLite with VACUUM INTO (a consistent copy while the panel runs), PostgreSQL with
    pg_dump's custom format; the uploads as a .tar.gz. See docs/operations.md."""
    from app.backup import BackupFailed, back_up

    try:
        written = back_up(folder)
    except BackupFailed as exc:
        raise click.ClickException(str(exc)) from exc
    for path in written:
        click.echo(f"wrote {path}")


@click.group("api-keys")
def api_keys_group() -> None:
    """API keys for the REST API (/api/v1/)."""


@api_keys_group.command("create")
@click.option("--user", "username", required=True, help="the user the key acts as")
@click.option("--name", required=True, help="a label, shown on the API keys screen and audited")
@click.option("--read-only", is_flag=True, help="reads only: every change answers 403")
@click.option("--company", "company_id", type=int, help="limit the key to this company")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="expiry day (UTC)")
def api_keys_create(username, name, read_only, company_id, expires) -> None:
    """Create a key and print it — the only time it is shown."""
    from app.services import api_keys
    from app.tenancy import system_actor

    try:
        with transaction():
            key, text = api_keys.create(
                system_actor("cli"),
                api_keys.user_named(username),
                name,
                read_only=read_only,
                limited_to=company_id,
                expires_at=expires.replace(tzinfo=UTC) if expires else None,
            )
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"API key {key.id} ({key.name}) for {username}; shown once, keep it safe:")
    click.echo(text)


@api_keys_group.command("revoke")
@click.argument("key_id", type=int)
def api_keys_revoke(key_id: int) -> None:
    """Revoke a key: it opens nothing from now on."""
    from app.services import api_keys
    from app.tenancy import system_actor

    try:
        with transaction():
            key = api_keys.revoke(system_actor("cli"), key_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"API key {key.id} ({key.name}) revoked.")
