"""System (platform admin only): is the background work running? The workers' and
schedulers' heartbeats, which scheduler leads, each periodic job's last run, the
queue's depth and its failed jobs, with a button to run a failed job again."""

from __future__ import annotations

import logging

from flask import current_app, flash, redirect, url_for
from flask_appbuilder import BaseView, expose, has_access
from redis.exceptions import RedisError

from app import mailer
from app.jobs.periodic import SCHEDULE
from app.queue import queue_state, requeue_failed
from app.services import health

log = logging.getLogger(__name__)


class SystemView(BaseView):
    route_base = "/system"
    default_view = "index"
    class_permission_name = "System"
    method_permission_name = {"index": "show", "retry": "retry"}
    base_permissions = ["can_show", "can_retry"]

    @expose("/")
    @has_access
    def index(self):
        return self.render_template(
            "system.html",
            title="System",
            ago=health.describe_age,
            live=health.liveness(),
            processes=health.processes(),
            schedule=SCHEDULE,
            runs=health.periodic_runs(),
            queue=queue_state(),
            mail_configured=mailer.configured(),
            embedded=current_app.config.get("EMBEDDED_QUEUE"),
        )

    @expose("/failed/<job_id>/retry", methods=["POST"])
    @has_access
    def retry(self, job_id: str):
        try:
            requeued = requeue_failed(job_id)
        except RedisError as exc:
            flash(f"The queue cannot be reached: {exc}", "danger")
            return redirect(url_for("SystemView.index"))
        if requeued:
            log.info("failed job %s queued again from the System page", job_id)
            flash(f"Job {job_id} is queued again.", "success")
        else:
            flash(f"Job {job_id} is no longer among the failed jobs.", "warning")
        return redirect(url_for("SystemView.index"))
