"""Signing in and out, and changing one's own password: Flask-AppBuilder's views,
with the panel's rules (services/sessions.py, services/passwords.py, throttle.py).

Kept beside `app/security.py` (not in `app/views/`, which imports the security
manager) because the security manager names these classes.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView, ResetMyPasswordView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import TooManyRequests
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo

from app import tenancy
from app.errors import Invalid
from app.services import passwords, sessions
from app.transaction import transaction


def too_many_sign_ins(wait: int) -> TooManyRequests:
    return TooManyRequests(
        "Too many failed sign-ins for this username or from this address. "
        f"Try again in {wait} second{'s' if wait != 1 else ''}.",
        retry_after=wait,
    )


def throttle():
    """This app's sign-in throttle, or None when it is turned off (LOGIN_THROTTLE=0)."""
    return current_app.extensions.get("signin_throttle")


class PanelAuthDBView(AuthDBView):
    """FAB's sign-in, with the failure throttle and a server-side session; sign-out
    by POST (the GET asks), and Sign out everywhere."""

    login_template = "security/login.html"

    logout_template = "security/logout.html"

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if not form.validate_on_submit():
            return self.render_template(
                self.login_template, title=self.title, form=form, appbuilder=self.appbuilder
            )
        username, address = form.username.data, request.remote_addr
        limiter = throttle()
        wait = limiter.wait_seconds(username, address) if limiter else 0
        if wait:
            raise too_many_sign_ins(wait)
        next_url = get_safe_redirect(request.args.get("next", ""))
        user = self.appbuilder.sm.auth_user_db(username, passwords.normalise(form.password.data))
        if not user:
            if limiter:
                limiter.record_failure(username, address)
            flash(str(self.invalid_login_message), "warning")
            return redirect(self.appbuilder.get_url_for_login_with(next_url))
        if limiter:
            limiter.record_success(username)
        with transaction():
            sessions.start(user, address)
        login_user(user, remember=False)
        return redirect(next_url)

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        if request.method == "GET":  # a link or a bookmark: ask, never sign out on a GET
            return self.render_template(
                self.logout_template, title="Sign out", appbuilder=self.appbuilder
            )
        with transaction():
            sessions.end(current_user.session_token)
        logout_user()
        flash("You are signed out.", "info")
        return redirect(self.appbuilder.get_url_for_login)

    @expose("/logout/everywhere/", methods=["POST"])
    def logout_everywhere(self):
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        with transaction():
            sessions.sign_out_everywhere(tenancy.actor_for(g.user))
        logout_user()
        flash("You are signed out on every browser and device.", "info")
        return redirect(self.appbuilder.get_url_for_login)


class ChangeMyPasswordForm(DynamicForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired()], widget=BS3PasswordFieldWidget()
    )
    password = PasswordField(
        "New password",
        description=(
            f"At least {passwords.MIN_LENGTH} characters; a phrase of a few words works well. "
            "Your other sessions are signed out."
        ),
        validators=[DataRequired()],
        widget=BS3PasswordFieldWidget(),
    )
    conf_password = PasswordField(
        "Confirm new password",
        validators=[EqualTo("password", message="The new passwords must match.")],
        widget=BS3PasswordFieldWidget(),
    )


class PanelResetMyPasswordView(ResetMyPasswordView):
    """A manager's own password: the current one is asked for, the policy applies,
    and every other session of the manager ends (this one continues, renewed)."""

    form = ChangeMyPasswordForm
    form_title = "Change my password"

    def form_post(self, form):
        user = current_user._get_current_object()  # g.user is a proxy of current_user
        try:
            with transaction():
                passwords.change_own_password(
                    tenancy.actor_for(user), form.current_password.data, form.password.data
                )
                sessions.end_all([user.id], sessions.PASSWORD_CHANGED)
                sessions.start(user, request.remote_addr)
        except Invalid as exc:
            getattr(form, exc.field or "password").errors.append(exc.message)
            return self.render_template(
                self.form_template,
                title=self.form_title,
                widgets=self._get_edit_widget(form=form),
                appbuilder=self.appbuilder,
            )
        login_user(user, remember=False)  # the renewed session's token into the cookie
        flash("Password changed. Every other session of yours is signed out.", "info")
        return redirect(url_for("AppUserDBModelView.userinfo"))
