"""Webhooks: the subscriptions of the company in view (its own, or the one managed),
their delivery log, and Replay (services/webhooks.py)."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access

from app.services import webhooks
from app.views.base import run_service
from app.views.context import current_actor


class WebhookView(BaseView):
    route_base = "/webhooks"
    class_permission_name = "Webhooks"
    method_permission_name = {
        "list": "list",
        "create": "add",
        "remove": "delete",
        "log": "list",
        "replay": "replay",
    }
    base_permissions = ["can_list", "can_add", "can_delete", "can_replay"]
    default_view = "list"

    @expose("/")
    @has_access
    def list(self):
        return self._page()

    @expose("/", methods=["POST"])
    @has_access
    def create(self):
        outcome = run_service(
            lambda actor: webhooks.subscribe(
                actor,
                actor.company_in_view,
                request.form.get("url", ""),
                request.form.getlist("events"),
            ),
            None,
        )
        if not outcome:
            return self._page(posted=True)
        return self._page(created=outcome.result)

    @expose("/<int:pk>/delete", methods=["POST"])
    @has_access
    def remove(self, pk):
        run_service(
            lambda actor: webhooks.remove(actor, pk),
            lambda hook: f"Webhook to {hook.url} deleted: nothing more is sent to it.",
        )
        return redirect(url_for("WebhookView.list"))

    @expose("/<int:pk>")
    @has_access
    def log(self, pk):
        found = run_service(lambda actor: webhooks.log(actor, pk), None)
        if not found:
            abort(404)
        hook, deliveries = found.result
        return self.render_template(
            "webhooks/log.html",
            hook=hook,
            deliveries=deliveries,
            events=webhooks.EVENTS,
            title="Webhook deliveries",
        )

    @expose("/deliveries/<int:pk>/replay", methods=["POST"])
    @has_access
    def replay(self, pk):
        outcome = run_service(
            lambda actor: webhooks.replay(actor, pk),
            lambda delivery: f"Event {delivery.event.uid} queued to be sent again.",
        )
        if not outcome:  # refused (its message is flashed): back to the webhooks
            return redirect(url_for("WebhookView.list"))
        return redirect(url_for("WebhookView.log", pk=outcome.result.webhook_id))

    def _page(self, posted: bool = False, created=None):
        actor = current_actor()
        return self.render_template(
            "webhooks/list.html",
            hooks=webhooks.visible(actor, actor.company_in_view),
            events=webhooks.EVENTS,
            created=created,
            form=request.form if posted else {},
            chosen=request.form.getlist("events") if posted else list(webhooks.EVENTS),
            title="Webhooks",
        )
