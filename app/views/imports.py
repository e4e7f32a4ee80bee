"""Select Users by CSV → Import Licence Renewal, and Import Learners: add the file,
choose the columns, review every row, then Renew Licences / Import Learners."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from app import display, exports
from app.errors import Conflict, Invalid
from app.models import ImportBatch, ImportKind, ImportStatus
from app.services import imports as service
from app.tenancy import Screen
from app.views.base import ScopedInterface, ScopedModelView
from app.views.context import current_actor

ACCEPTED = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
TITLES = {ImportKind.RENEWAL: "Import Licence Renewal", ImportKind.LEARNERS: "Import Learners"}
NAME_FIELDS = [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("department", "Group/department"),
    ("last_active", "Last active (YYYY-MM-DD)"),
]


class UploadForm(FlaskForm):
    file = FileField(
        "Add your User spreadsheet file",
        validators=[FileRequired("Choose a spreadsheet file first.")],
    )


class ImportView(ScopedModelView):
    route_base = "/imports"
    class_permission_name = "Imports"
    base_permissions = ["can_upload", "can_columns", "can_review", "can_commit", "can_rejected"]
    # The list of the rows taken is part of the review.
    method_permission_name = {name[4:]: name[4:] for name in base_permissions} | {"taken": "review"}
    datamodel = ScopedInterface(ImportBatch, screen=Screen.OWN)

    @expose("/<kind>/upload", methods=["GET", "POST"])
    @has_access
    def upload(self, kind):
        if kind not in TITLES:
            abort(404)
        form = UploadForm()
        if form.validate_on_submit():
            upload = form.file.data
            outcome = self.run_service(
                lambda a: service.upload(
                    a, a.company_in_view, kind, _accepted(upload.filename), upload
                ),
                None,
                form,
            )
            if outcome:
                return redirect(url_for("ImportView.columns", pk=outcome.result.id))
        return self.render_template(
            "imports/upload.html",
            form=form,
            renewal=kind == ImportKind.RENEWAL,
            title=TITLES[kind],
            accept=",".join(ACCEPTED),
        )

    @expose("/<pk>/columns", methods=["GET", "POST"])
    @has_access
    def columns(self, pk):
        """Choose the sheet, the header row and the column containing Email (and the
        name columns for learners), with the first rows shown."""
        batch = self._batch(pk)
        values = request.values
        if request.method == "POST" and self.run_service(
            lambda a: service.review(
                a,
                batch.id,
                values.get("header_row"),
                _chosen_columns(values),
                values.get("auto_license") == "on",
            ),
            None,
        ):
            return redirect(url_for("ImportView.review", pk=batch.id))
        outcome = self.run_service(
            lambda a: service.preview(a, batch.id, values.get("sheet"), values.get("header_row")),
            None,
        )
        if not outcome:
            return redirect(url_for("ImportView.upload", kind=batch.kind))
        return self.render_template(
            "imports/columns.html",
            preview=outcome.result,
            batch=batch,
            title=TITLES[batch.kind],
            name_fields=NAME_FIELDS,
        )

    @expose("/<pk>/review")
    @has_access
    def review(self, pk):
        batch = self._batch(pk)
        if batch.summary is None:
            return redirect(url_for("ImportView.columns", pk=batch.id))
        return self.render_template(
            "imports/review.html",
            batch=batch,
            summary=service.Summary.of(batch),
            rejected=service.rejected_page(batch.id),
            taken=service.taken_page(batch.id),
            reason_text=service.reason_text,
            reason_label=service.reason_label,
            title=TITLES[batch.kind],
        )

    @expose("/<pk>/commit", methods=["POST"])
    @has_access
    def commit(self, pk):
        """Renew Licences / Import Learners: exactly what the review showed. A stale
        review is checked again and shown, with what changed."""
        batch = self._batch(pk)
        if batch.is_renewal:
            include = request.form.get("include_flagged") == "y"
            outcome = self.run_service(
                lambda a: service.commit_renewal(a, batch.id, include_flagged=include), None
            )
        else:
            outcome = self.run_service(lambda a: service.commit_learners(a, batch.id), None)
        if outcome:
            return redirect(_done_page(batch, outcome.result))
        if isinstance(outcome.error, Conflict) and batch.status == ImportStatus.REVIEWED:
            self.run_service(  # people or seats changed: check the file again
                lambda a: service.review(
                    a, batch.id, batch.header_row, batch.columns, batch.auto_license
                ),
                None,
            )
        return redirect(url_for("ImportView.review", pk=batch.id))

    @expose("/<pk>/rejected.<fmt>")
    @has_access
    def rejected(self, pk, fmt):
        """The rows not taken (row number, value, reason), as CSV or XLSX."""
        batch = self._batch(pk)
        actor = current_actor()
        header = ["Row", "Value", "Reason"]
        return exports.download(
            fmt,
            f"not-taken-{batch.id}",
            "Not taken",
            header,
            lambda: service.rejected(actor, batch.id),
        )

    @expose("/<pk>/taken.<fmt>")
    @has_access
    def taken(self, pk, fmt):
        """The rows taken — who will be renewed or imported — as CSV or XLSX."""
        batch = self._batch(pk)
        actor = current_actor()
        header = ["Row", "Email", "First name", "Last name"]
        return exports.download(
            fmt, f"taken-{batch.id}", "Taken", header, lambda: service.taken(actor, batch.id)
        )

    def _batch(self, pk) -> ImportBatch:
        batch = self.datamodel.get(pk)
        if batch is None:
            abort(404)
        return batch


def _accepted(filename: str | None) -> str:
    name = (filename or "").strip()
    lowered = name.lower()
    if lowered.endswith(".xls"):
        raise Invalid(
            "This is a legacy Excel .xls file: save it as .xlsx or .csv and upload it again.",
            "file",
        )
    if not lowered.endswith(ACCEPTED):
        raise Invalid("Upload a spreadsheet: .csv, .tsv, .txt or .xlsx.", "file")
    return name


def _chosen_columns(values) -> dict:
    chosen = {"email": values.get("email_column")}
    for field, _label in NAME_FIELDS:
        if values.get(f"{field}_column") not in (None, ""):
            chosen[field] = values.get(f"{field}_column")
    return chosen


def _done_page(batch: ImportBatch, result) -> str:
    from flask import flash

    if batch.is_renewal:
        flash(f"Renewed {display.count(result.size, 'license')}.", "success")
        return url_for("AllocatedView.list")
    flash(
        f"Added {display.count(result.added, 'learner')} and updated "
        f"{display.count(result.updated, 'learner')}; "
        f"{display.count(result.licensed, 'new learner')} got a license.",
        "success",
    )
    return url_for("LearnerView.list")
