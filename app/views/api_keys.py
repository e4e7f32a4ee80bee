"""API keys: a manager's keys for the REST API, and its company's. Created for the
manager itself (in Manage Company mode: limited to the managed company), shown once;
any manager of the company revokes them."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from sqlalchemy import or_, select

from app.errors import Invalid
from app.extensions import db
from app.models import ApiKey, AppUser
from app.services import api_keys
from app.tenancy import scope
from app.views.base import run_service
from app.views.context import current_actor


def _expiry(text: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise Invalid("Write the expiry as YYYY-MM-DD, or leave it empty.", "expires") from None
    return datetime.combine(day, time(), tzinfo=UTC)


class ApiKeyView(BaseView):
    route_base = "/api-keys"
    class_permission_name = "ApiKeys"
    method_permission_name = {"list": "list", "create": "add", "revoke": "revoke"}
    base_permissions = ["can_list", "can_add", "can_revoke"]
    default_view = "list"

    @expose("/")
    @has_access
    def list(self):
        return self._page()

    @expose("/", methods=["POST"])
    @has_access
    def create(self):
        outcome = run_service(
            lambda actor: api_keys.create(
                actor,
                db.session.get(AppUser, actor.user_id),
                request.form.get("name", ""),
                read_only=bool(request.form.get("read_only")),
                limited_to=actor.managing_company_id,
                expires_at=_expiry(request.form.get("expires", "")),
            ),
            None,
        )
        if not outcome:
            return self._page(posted=True)
        return self._page(created=outcome.result)

    @expose("/<int:pk>/revoke", methods=["POST"])
    @has_access
    def revoke(self, pk):
        run_service(
            lambda actor: api_keys.revoke(actor, pk),
            lambda key: f"API key “{key.name}” revoked: it opens nothing from now on.",
        )
        return redirect(url_for("ApiKeyView.list"))

    def _page(self, posted: bool = False, created=None):
        actor = current_actor()
        in_view = actor.company_in_view
        keys = db.session.scalars(
            select(ApiKey)
            .where(
                or_(ApiKey.company_id == in_view, ApiKey.limited_to_id == in_view)
                if in_view is not None
                else ApiKey.user_id == actor.user_id,
                scope(actor, ApiKey.company_id) if in_view is not None else ApiKey.id.isnot(None),
            )
            .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        ).all()
        users = {
            u.id: u
            for u in db.session.scalars(
                select(AppUser).where(AppUser.id.in_({k.user_id for k in keys}))
            )
        }
        return self.render_template(
            "api_keys/list.html",
            keys=keys,
            users=users,
            created=created,
            form=request.form if posted else {},
            limited_to_managed=actor.managing_company_id is not None,
            now=datetime.now(UTC),
            title="API keys",
        )
