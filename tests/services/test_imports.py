"""Import Licence Renewal and Import Learners through the services."""

import io

import pytest
from sqlalchemy import func, select

from app import clock
from app.errors import Conflict, Invalid, NotFound
from app.models import ImportBatch, Learner, License
from app.services import imports
from tests import factories
from tests.factories import replace_actor_in
from tests.imports import corpus


def upload(actor, company, data: bytes, name="renew.csv", kind="renewal"):
    return imports.upload(actor, company.id, kind, name, io.BytesIO(data))


def reasons(batch):
    return {
        number: text
        for number, _value, text in imports.rejected(replace_actor_in(batch.company), batch.id)
    }


@pytest.fixture
def renewal(tree, session):
    """Customer C1: 6 people whose licenses expired, an order of 10 seats."""
    tree.expired = factories.expired_people(tree.customer, 6)
    factories.assigned_order(tree.customer, 10)
    return tree


def test_review_takes_the_expired_and_explains_every_other_row(renewal, session):
    tree, actor = renewal, replace_actor_in(renewal.customer)
    expired = tree.expired
    rows = [
        ["Staff list"],
        [],
        ["Name", "Work Email"],
        ["a", expired[0].email.upper()],
        ["b", f" {expired[1].email}\u00a0"],
        ["c", expired[0].email],
        ["d", "stranger@elsewhere.example.com"],
        ["e", "=HYPERLINK(1)"],
        ["f", ""],
        ["g", "x@a.example.com, y@a.example.com"],
        ["h", "unknown@acme.example.com"],
    ]
    factories.assigned_order(tree.customer, 1)
    batch = upload(actor, tree.customer, corpus.csv_bytes(rows))
    preview = imports.preview(actor, batch.id)
    assert (preview.layout.header_row, preview.layout.email_column) == (3, 1)
    summary = imports.review(actor, batch.id, 3, {"email": 1})
    assert (summary.taken, summary.not_taken) == (2, 6)
    assert reasons(batch) == {
        6: "duplicate of row 4",
        7: "not found in this company",
        8: "not an email address (a formula)",
        9: "not an email address (empty)",
        10: "not an email address (two addresses in one cell)",
        11: "not found in this company",
    }
    assert summary.free == 11 and summary.problem is None


def test_a_header_row_chosen_past_the_first_thousand_rows_starts_the_data(renewal, session):
    """The review reads the file in chunks of 1,000 rows: a header chosen further
    down starts the data wherever it falls, in any chunk."""
    tree, actor = renewal, replace_actor_in(renewal.customer)
    rows = [[f"note {n}"] for n in range(1, 1100)] + [["Email"]]
    rows += [[person.email] for person in tree.expired[:3]]
    batch = upload(actor, tree.customer, corpus.csv_bytes(rows))
    summary = imports.review(actor, batch.id, 1100, {"email": 0})
    assert (summary.rows, summary.taken) == (3, 3)
    summary = imports.review(actor, batch.id, 1101, {"email": 0})
    assert (summary.rows, summary.taken) == (2, 2)


def test_an_overlong_address_is_explained_not_a_crash(renewal, session):
    tree, actor = renewal, replace_actor_in(renewal.customer)
    long_address = "a" * 300 + "@acme.example.com"  # longer than any column holds
    rows = [["Email"], [tree.expired[0].email], [long_address]]
    batch = upload(actor, tree.customer, corpus.csv_bytes(rows))
    summary = imports.review(actor, batch.id, 1, {"email": 0})
    assert (summary.taken, summary.not_taken) == (1, 1)
    assert reasons(batch) == {3: "not an email address (longer than 254 characters)"}


def test_renew_licences_allocates_exactly_the_reviewed_people_once(renewal, session):
    tree, actor = renewal, replace_actor_in(renewal.customer)
    data = corpus.csv_bytes([["Email"], *[[p.email] for p in tree.expired]], ";", "cp1252")
    batch = upload(actor, tree.customer, data)
    imports.review(actor, batch.id, 1, {"email": 0})
    done = imports.commit_renewal(actor, batch.id)
    assert done.size == 6
    with pytest.raises(Conflict, match="already renewed"):
        imports.commit_renewal(actor, batch.id)
    assert (
        session.scalar(
            select(func.count())
            .select_from(License)
            .where(License.selection_id == done.selection.id)
        )
        == 6
    )
    # The same file again: everybody is active now, nobody is renewed twice.
    again = upload(actor, tree.customer, data)
    summary = imports.review(actor, again.id, 1, {"email": 0})
    assert summary.taken == 0 and summary.reasons == {"active": 6}
    with pytest.raises(Invalid, match="Nobody in this file"):
        imports.commit_renewal(actor, again.id)


def test_a_stale_review_is_refused(renewal, session):
    tree, actor = renewal, replace_actor_in(renewal.customer)
    batch = upload(
        actor, tree.customer, corpus.csv_bytes([["Email"], *[[p.email] for p in tree.expired]])
    )
    imports.review(actor, batch.id, 1, {"email": 0})
    from app.services.allocation import allocate, select_people

    allocate(actor, select_people(actor, tree.customer.id, [tree.expired[0].id]).id)
    with pytest.raises(imports.StaleReview, match="1 of these people have an active license"):
        imports.commit_renewal(actor, batch.id)


def test_too_few_seats_uses_the_allocate_wording(tree, session):
    expired = factories.expired_people(tree.customer, 5)
    factories.assigned_order(tree.customer, 2)
    actor = replace_actor_in(tree.customer)
    batch = upload(
        actor, tree.customer, corpus.csv_bytes([["Email"], *[[p.email] for p in expired]])
    )
    summary = imports.review(actor, batch.id, 1, {"email": 0})
    assert summary.problem == "5 selected, 2 seats free: request 3 more licenses."
    with pytest.raises(Conflict, match="5 selected, 2 seats free"):
        imports.commit_renewal(actor, batch.id)


def test_deactivated_learners_are_not_renewed(renewal, session):
    from app.services.learners import set_learners_active

    tree, actor = renewal, replace_actor_in(renewal.customer)
    set_learners_active(actor, [tree.expired[2].id], False)
    batch = upload(actor, tree.customer, corpus.csv_bytes([["Email"], [tree.expired[2].email]]))
    summary = imports.review(actor, batch.id, 1, {"email": 0})
    assert summary.reasons == {"deactivated": 1}


def test_a_file_refused_while_streaming_leaves_the_review_repeatable(renewal, session, app):
    tree, actor = renewal, replace_actor_in(renewal.customer)
    rows = [["Email"], *[[p.email] for p in tree.expired], ["stranger@elsewhere.example.com"]]
    batch = upload(actor, tree.customer, corpus.csv_bytes(rows))
    saved, app.config["IMPORT_MAX_ROWS"] = app.config["IMPORT_MAX_ROWS"], 4
    try:
        with pytest.raises(Invalid, match="more than 4 rows"):
            imports.review(actor, batch.id, 1, {"email": 0})
    finally:
        app.config["IMPORT_MAX_ROWS"] = saved
    # Same transaction: nothing staged is left behind, the load can run again.
    summary = imports.review(actor, batch.id, 1, {"email": 0})
    assert (summary.taken, summary.reasons) == (6, {"not_found": 1})


def test_a_nul_character_past_the_first_64_kb_is_refused_with_its_row(renewal, session):
    """The first 64 KB decide what the file is; a NUL further on (a binary tail, a
    broken export) is found while streaming, named, and nothing is reviewed."""
    tree, actor = renewal, replace_actor_in(renewal.customer)
    filler = [[f"person{n}@elsewhere.example.com"] for n in range(3000)]  # about 90 KB
    data = corpus.csv_bytes([["Email"], *filler]) + b"bad\x00row@example.com\n"
    batch = upload(actor, tree.customer, data)
    with pytest.raises(Invalid, match="Row 3002 holds a NUL character"):
        imports.review(actor, batch.id, 1, {"email": 0})


def test_uploads_of_another_company_are_not_found(renewal, session):
    actor = replace_actor_in(renewal.customer)
    batch = upload(actor, renewal.customer, corpus.csv_bytes([["Email"], ["a@b.example.com"]]))
    other = replace_actor_in(renewal.other_customer)
    with pytest.raises(NotFound):
        imports.preview(other, batch.id)
    with pytest.raises(NotFound):
        imports.review(other, batch.id, 1, {"email": 0})
    with pytest.raises(NotFound):
        imports.commit_renewal(other, batch.id)
    with pytest.raises(NotFound):
        upload(renewal.actor("customer"), renewal.sub_customer, b"Email\n")


def test_bad_files_change_nothing_and_keep_no_file(tree, session, app):
    import os

    actor = replace_actor_in(tree.customer)
    before = os.listdir(app.config["UPLOAD_FOLDER"])
    with pytest.raises(Invalid, match="legacy Excel"):
        upload(actor, tree.customer, corpus.ole(None), "old.xls")
    assert os.listdir(app.config["UPLOAD_FOLDER"]) == before
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_files_are_stored_under_a_server_made_name_and_deleted_after_commit(renewal, app):
    import os

    tree, actor = renewal, replace_actor_in(renewal.customer)
    batch = upload(
        actor,
        tree.customer,
        corpus.csv_bytes([["Email"], [tree.expired[0].email]]),
        name="../../etc/passwd.csv",
    )
    assert batch.stored_name and "/" not in batch.stored_name
    assert batch.stored_name in os.listdir(app.config["UPLOAD_FOLDER"])
    imports.review(actor, batch.id, 1, {"email": 0})
    imports.commit_renewal(actor, batch.id)
    assert batch.stored_name is None


def test_uploads_older_than_a_day_are_discarded(tree, session, app):
    from datetime import timedelta

    from app import clock

    actor = replace_actor_in(tree.customer)
    batch = upload(actor, tree.customer, corpus.csv_bytes([["Email"], ["a@b.example.com"]]))
    assert imports.discard_stale(clock.now() + timedelta(hours=25)) == 1
    assert batch.status == "expired" and batch.stored_name is None
    with pytest.raises(Invalid, match="expired"):
        imports.preview(actor, batch.id)


def test_import_learners_adds_updates_and_explains(tree, session):
    actor = replace_actor_in(tree.customer)
    known = tree.people[tree.customer.name][0]
    factories.assigned_order(tree.customer, 1)
    rows = [
        ["First", "Last", "Email", "Team"],
        ["New", "Person", "new.person@acme.example.com", "Ops"],
        ["Other", "Newbie", "other.new@acme.example.com", ""],
        [known.first_name, "Renamed", known.email, "Finance"],
        ["No", "", "nameless@acme.example.com", ""],
        ["Dup", "Row", "new.person@acme.example.com", ""],
    ]
    batch = upload(
        actor, tree.customer, corpus.xlsx_bytes({"S": rows}), "people.xlsx", kind="learners"
    )
    preview = imports.preview(actor, batch.id)
    assert preview.name_columns == {
        "first_name": 0,
        "last_name": 1,
        "department": 3,
        "last_active": None,
    }
    summary = imports.review(
        actor, batch.id, 1, {"email": 2, "first_name": 0, "last_name": 1, "department": 3}
    )
    assert (summary.new, summary.updated, summary.not_taken) == (2, 1, 2)
    assert summary.seats_for_new == 1
    result = imports.commit_learners(actor, batch.id)
    assert result == imports.LearnersImported(added=2, updated=1, licensed=1)
    session.expire_all()
    assert session.get(Learner, known.id).last_name == "Renamed"
    added = session.scalar(select(Learner).where(Learner.email == "new.person@acme.example.com"))
    assert added.department == "Ops" and added.license_expires_at is not None


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_an_import_trims_the_cells_it_reads_and_skips_rows_of_spaces(tree, session, kind):
    """The review reads the file's cells untrimmed (a workbook's as numbers, dates and
    text) and makes text of those it keeps: padded names and dates are kept trimmed,
    empty cells as no value; a row of spaces only is no data row (not an empty
    address), a row holding a 0 is one."""
    from datetime import date, datetime

    actor = replace_actor_in(tree.customer)
    day = datetime(2026, 5, 1) if kind == "xlsx" else " 2026-05-01 "
    rows = [
        ["First", "Last", "Email", "Team", "Last active"],
        ["  Ann ", " Lee\t", "  ann.lee@acme.example.com ", "  ", day],
        ["   ", " ", "  ", "", ""],
        ["Bo", "Ray", "bo.ray@acme.example.com", " Ops ", " soon "],
        ["", "", 0 if kind == "xlsx" else "0", "", ""],
    ]
    data = corpus.xlsx_bytes({"S": rows}) if kind == "xlsx" else corpus.csv_bytes(rows)
    batch = upload(actor, tree.customer, data, f"people.{kind}", kind="learners")
    columns = {"email": 2, "first_name": 0, "last_name": 1, "department": 3, "last_active": 4}
    summary = imports.review(actor, batch.id, 1, columns)
    assert (summary.rows, summary.new, summary.not_taken) == (3, 1, 2)
    assert reasons(batch) == {
        4: "not a last-active date (soon): write it as YYYY-MM-DD",
        5: "not an email address (not a valid address)",
    }
    imports.commit_learners(actor, batch.id)
    added = session.scalar(select(Learner).where(Learner.email == "ann.lee@acme.example.com"))
    assert (added.first_name, added.last_name, added.department) == ("Ann", "Lee", None)
    assert added.last_active_on == date(2026, 5, 1)


def test_import_learners_can_leave_new_learners_unlicensed(tree, session):
    actor = replace_actor_in(tree.customer)
    factories.assigned_order(tree.customer, 5)
    batch = upload(
        actor,
        tree.customer,
        corpus.csv_bytes([["First", "Last", "Email"], ["A", "B", "ab@acme.example.com"]]),
        kind="learners",
    )
    imports.review(
        actor, batch.id, 1, {"email": 2, "first_name": 0, "last_name": 1}, auto_license=False
    )
    assert imports.commit_learners(actor, batch.id).licensed == 0


def test_flagged_people_are_listed_apart_and_renewed_only_when_included(renewal, session):
    """Seat reclaim: the renewal import lists people flagged do-not-renew under
    their own reason; Renew Licences leaves them out unless they are included."""
    tree, actor = renewal, replace_actor_in(renewal.customer)
    tree.expired[0].do_not_renew = True
    tree.expired[1].do_not_renew = True
    session.flush()
    rows = [["Email"], *[[p.email] for p in tree.expired]]
    batch = upload(actor, tree.customer, corpus.csv_bytes(rows))
    summary = imports.review(actor, batch.id, 1, {"email": 0})
    assert (summary.taken, summary.reasons) == (4, {"flagged": 2})
    assert reasons(batch) == {2: "flagged do-not-renew", 3: "flagged do-not-renew"}
    assert imports.commit_renewal(actor, batch.id).size == 4
    flagged = tree.expired[:2]

    def renewed(people) -> list[bool]:
        now = clock.now()
        for person in people:
            session.refresh(person)
        return [person.license_expires_at > now for person in people]

    assert renewed(flagged) == [False, False] and renewed(tree.expired[2:]) == [True] * 4
    again = upload(actor, tree.customer, corpus.csv_bytes(rows[:3]))
    assert imports.review(actor, again.id, 1, {"email": 0}).taken == 0
    done = imports.commit_renewal(actor, again.id, include_flagged=True)
    assert done.size == 2 and renewed(flagged) == [True, True]


def test_import_learners_reads_an_optional_last_active_column(tree, session):
    """Seat reclaim: a Last active column (a date cell or YYYY-MM-DD text) is written
    to new and known people; a cell that is no date is named and not taken."""
    from datetime import date, datetime

    actor = replace_actor_in(tree.customer)
    known = tree.people[tree.customer.name][0]
    rows = [
        ["First", "Last", "Email", "Last active"],
        ["New", "Person", "new.person@acme.example.com", datetime(2026, 5, 1)],
        [known.first_name, known.last_name, known.email, "2026-06-30"],
        ["Bad", "Date", "bad.date@acme.example.com", "last spring"],
    ]
    batch = upload(
        actor, tree.customer, corpus.xlsx_bytes({"S": rows}), "people.xlsx", kind="learners"
    )
    assert imports.preview(actor, batch.id).name_columns["last_active"] == 3
    summary = imports.review(
        actor, batch.id, 1, {"email": 2, "first_name": 0, "last_name": 1, "last_active": 3}
    )
    assert (summary.new, summary.updated, summary.not_taken) == (1, 1, 1)
    assert reasons(batch) == {4: "not a last-active date (last spring): write it as YYYY-MM-DD"}
    imports.commit_learners(actor, batch.id)
    session.expire_all()
    assert session.get(Learner, known.id).last_active_on == date(2026, 6, 30)
    added = session.scalar(select(Learner).where(Learner.email == "new.person@acme.example.com"))
    assert added.last_active_on == date(2026, 5, 1)


def test_including_flagged_people_beyond_the_free_seats_is_named_and_refused(tree, session):
    """The review names the shortage that Include them would meet; the commit
    refuses it with that message and renews nobody."""
    actor = replace_actor_in(tree.customer)
    expired = factories.expired_people(tree.customer, 3)
    factories.assigned_order(tree.customer, 2)
    expired[0].do_not_renew = True
    session.flush()
    rows = [["Email"], *[[p.email] for p in expired]]
    batch = upload(actor, tree.customer, corpus.csv_bytes(rows))
    summary = imports.review(actor, batch.id, 1, {"email": 0})
    assert summary.problem is None
    assert summary.problem_with_flagged == "3 selected, 2 seats free: request 1 more license."
    with pytest.raises(Invalid, match="request 1 more license"):
        imports.commit_renewal(actor, batch.id, include_flagged=True)
