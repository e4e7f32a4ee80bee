"""Emails: every email with its state and content, scoped like everything else."""

from __future__ import annotations

from flask import redirect
from flask_appbuilder.actions import action

from app import display, mailer
from app.models import Email, EmailState
from app.models.email import kind_label
from app.services import emails as service
from app.services.health import worker_seen_recently
from app.sql import like_any
from app.views.base import (
    LOG_COUNT_CAP,
    ScopedInterface,
    ScopedModelView,
    local_when,
    or_dash,
)
from app.views.context import current_actor
from app.views.filters import choice_field


def _state(value: str) -> str:
    return EmailState(value).label


def _kind(value: str) -> str:
    return kind_label(value)


class EmailView(ScopedModelView):
    noun, row_noun = "emails", "email"
    route_base = "/emails"
    class_permission_name = "Emails"
    method_permission_name = {"list": "list", "show": "show", "retry": "retry"}
    base_permissions = ["can_list", "can_show", "can_retry"]
    datamodel = ScopedInterface(
        Email, count_cap=LOG_COUNT_CAP, wide_order=("created_at", "ix_emails_created_id")
    )

    list_title = "Emails"
    column_links = {"subject": "EmailView", "company": "CompanyView"}
    quick_search_label = "recipient or subject"
    search_form_extra_fields = {"state": choice_field("State", EmailState)}

    def quick_search(self, term: str):
        return like_any(term, Email.recipient, Email.subject)

    list_template = "outbox/list.html"
    show_title = "Email"
    list_columns = [
        "created_at",
        "kind",
        "recipient",
        "company",
        "subject",
        "state",
        "last_error",
        "attempts",
    ]
    order_columns = ["created_at", "kind", "recipient", "state", "attempts"]
    search_columns = ["state", "kind", "recipient", "company", "created_at"]
    show_columns = [
        "subject",
        "recipient",
        "company",
        "kind",
        "state",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "message_id",
        "body",
    ]
    base_order = ("created_at", "desc")
    label_columns = {
        "created_at": "Created",
        "sent_at": "Sent",
        "next_attempt_at": "Next attempt",
        "last_error": "Reason or last error",
        "message_id": "Message-ID",
    }
    formatters_columns = {
        "state": _state,
        "kind": _kind,
        "created_at": local_when,
        "sent_at": local_when,
        "next_attempt_at": local_when,
        "last_error": or_dash,
        "message_id": or_dash,
    }

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            kwargs.update(
                worker_running=worker_seen_recently(),
                mail_configured=mailer.configured(),
                schedule_company=current_actor().company_in_view,
            )
        return super().render_template(template, **kwargs)

    @action("retry", "Retry", "Send the selected emails again?", "fa-redo")
    def retry(self, pks):
        self.run_service(
            lambda a: service.retry(a, pks),
            lambda n: f"{display.count(n, 'email')} will be sent again.",
        )
        return redirect(self.back_to_list())
