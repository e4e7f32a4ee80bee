"""Operator commands: `flask setup`, `flask demo load`, `flask clock ...`."""

from __future__ import annotations

import os
from datetime import timedelta

import click
from flask import Flask
from flask_migrate import upgrade

from app import clock
from app.transaction import transaction


def register_commands(app: Flask) -> None:
    app.cli.add_command(setup)
    app.cli.add_command(demo)
    app.cli.add_command(clock_group)
    app.cli.add_command(emails_group)


@click.command("setup")
@click.option("--demo/--no-demo", "with_demo", default=False, help="also load the demo data")
def setup(with_demo: bool) -> None:
    """Apply the migrations (the only way the schema changes); optionally load the demo."""
    upgrade()
    click.echo("Database is up to date.")
    if with_demo:
        _load_demo()


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
        created = load_demo(password)
    click.echo("Demo data loaded." if created else "Demo data already present.")
    click.echo("Demo logins (password from DEMO_PASSWORD, default shown):")
    for username, role, company in DEMO_USERS:
        click.echo(f"  {username:<11} {password}   {role}{f' of {company}' if company else ''}")


@click.group("clock")
def clock_group() -> None:
    """The application's clock (shifted only outside production)."""


@clock_group.command("show")
def clock_show() -> None:
    click.echo(f"now={clock.now().isoformat()} offset={clock.offset()}")


@clock_group.command("shift")
@click.argument("hours", type=float)
def clock_shift(hours: float) -> None:
    """Set the clock HOURS ahead of real time for every process (0 resets it)."""
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
