"""Import Licence Renewal at scale: a 100,000-row XLSX and CSV holding the addresses
of 50,000 expired learners (and 50,000 strangers), upload→review and review→renew,
against the baseline measured in the same run: the bare parse of the same file with
the fastest reader of its format (python-calamine in-process, without the import's
child process and limits; the csv module), plus the raw SQL of the review's writes:
every row staged into a temporary table by the driver's bulk path (COPY on
PostgreSQL, as the review loads them), its learner found by one UPDATE joined to
the company's learners, the rows found by none marked; medians of 5. The renew of
the 50,000 people found is compared with the raw SQL of the same writes
(`bench.allocate`'s baseline: the people staged, the orders taken, the licenses
spread, the people's expiry updated), medians of 5.

Readings, with no baseline: the XLSX parser child's peak memory, the review's peak
memory at 10,000 and 100,000 rows, and the bare parse with openpyxl read-only,
python-calamine and the csv module.

    .venv/bin/python -m bench.import [sqlite|postgresql ...] [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import importlib
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

from bench.harness import (
    Reading,
    Row,
    bench_app,
    counting_statements,
    measure,
    print_readings,
    print_table,
    seed_expired_company,
)


def make_files(tmp: Path, rows: int) -> dict[str, Path]:
    from openpyxl import Workbook

    data = [["Name", "Email", "Department"]] + [
        [
            f"Person {i}",
            f"p{i}@bigco.example.com" if i % 2 == 0 else f"x{i}@else.example.com",
            "Sales",
        ]
        for i in range(rows)
    ]
    csv_path = tmp / f"renew-{rows}.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(data)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Staff")
    for row in data:
        sheet.append(row)
    xlsx_path = tmp / f"renew-{rows}.xlsx"
    workbook.save(xlsx_path)
    return {"csv": csv_path, "xlsx": xlsx_path}


def seed(people: int):
    """The company whose expired learners are every other address of the files."""
    return seed_expired_company(people, email_step=2)


def review_once(company, path: Path):
    """Upload and review the file; returns the batch id (committed for the renew)."""
    from app.extensions import db
    from app.services import imports
    from app.tenancy import system_actor

    actor = replace(system_actor("web"), managing_company_id=company.id)
    with open(path, "rb") as f:
        batch = imports.upload(actor, company.id, "renewal", path.name, f)
    imports.review(actor, batch.id, 1, {"email": 1})
    db.session.commit()
    return batch.id


def renew_once(company, batch_id: int):
    from app.extensions import db
    from app.services import imports
    from app.tenancy import system_actor

    actor = replace(system_actor("web"), managing_company_id=company.id)
    with db.session.begin_nested() as savepoint:
        imports.commit_renewal(actor, batch_id)
        savepoint.rollback()


def parse_openpyxl(path: Path) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    n = sum(1 for _ in workbook.active.iter_rows(values_only=True))
    workbook.close()
    return n


def parse_calamine(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    return len(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python())


def parse_csv(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f))


def addresses(path: Path) -> list[dict]:
    from app.imports import reader

    info = reader.inspect(path)
    return [{"email": r[1].strip().lower()} for r in list(reader.rows(path, info))[1:]]


def match_with_sql(company, emails: list[dict]) -> int:
    """The baseline's SQL, the review's writes without its checks: every row staged
    (number, cell, address) into a temporary table keyed by row number, through the
    driver's bulk path (COPY on PostgreSQL, as the review loads them:
    `app.sql.bulk_load`), each row's learner found by one UPDATE joined to the
    company's learners, the rows found by none marked, and the matches counted."""
    from sqlalchemy import Column, Integer, MetaData, String, Table

    from app.extensions import db
    from app.imports.reader import ROWS_PER_CHUNK
    from app.sql import bulk_load

    staged = Table(
        "bench_rows",
        MetaData(),
        Column("row_number", Integer),
        Column("value", String(320)),
        Column("email", String(320)),
    )
    connection = db.session.connection()
    connection.execute(
        text(
            "CREATE TEMPORARY TABLE bench_rows (row_number INTEGER PRIMARY KEY, "
            "value VARCHAR(320), email VARCHAR(320), learner_id INTEGER, reason VARCHAR(32))"
        )
    )
    match = (
        "UPDATE bench_rows SET learner_id = l.id FROM learners l "
        "WHERE l.company_id = :c AND l.email = bench_rows.email"
        if connection.dialect.name == "postgresql"
        else "UPDATE bench_rows SET learner_id = (SELECT l.id FROM learners l "
        "WHERE l.company_id = :c AND l.email = bench_rows.email)"
    )
    try:
        rows = [(n, e["email"], e["email"]) for n, e in enumerate(emails)]
        size = ROWS_PER_CHUNK
        chunks = (rows[i : i + size] for i in range(0, len(rows), size))
        bulk_load(connection, staged, chunks)
        connection.execute(text(match), {"c": company.id})
        connection.execute(
            text("UPDATE bench_rows SET reason = 'not_found' WHERE learner_id IS NULL")
        )
        return connection.execute(
            text("SELECT count(*) FROM bench_rows WHERE learner_id IS NOT NULL")
        ).scalar()
    finally:
        connection.execute(text("DROP TABLE bench_rows"))
        db.session.commit()


def median(fn, repeat: int = 5) -> float:
    return statistics.median(timed(fn) for _ in range(repeat))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak


def run(db_kind: str, rows: int) -> tuple[list[Row], list[Reading]]:
    from sqlalchemy import select

    from app.extensions import db
    from app.imports import reader
    from app.models import Order

    allocate = importlib.import_module("bench.allocate")
    out, readings = [], []
    with tempfile.TemporaryDirectory() as tmp, bench_app(db_kind, Path(tmp)):
        company = seed(rows // 2)
        orders = list(db.session.scalars(select(Order.id).where(Order.company_id == company.id)))
        same_writes = allocate.baseline(company, orders, rows // 2)
        files = make_files(Path(tmp), rows)
        for fmt, path in files.items():
            emails = addresses(path)
            # The fastest reader of the format (calamine, in-process, unbounded; the
            # csv module) and the raw SQL of the match: the limit of the same work.
            parse = parse_calamine if fmt == "xlsx" else parse_csv
            base = median(lambda p=path, f=parse: f(p)) + median(
                lambda e=emails: match_with_sql(company, e)
            )
            with counting_statements() as statements:
                review_once(company, path)
            ours = median(lambda p=path: review_once(company, p))
            out.append(Row(f"Import review ({fmt})", f"{rows:,}", ours, base, 0.0, len(statements)))
            if fmt == "xlsx":
                readings.append(
                    Reading(
                        "XLSX parser child peak RSS (RLIMIT_AS 1 GiB)",
                        f"{rows:,}",
                        reader.last_parser_peak_mb,
                        "MB",
                    )
                )
            batch_id = review_once(company, path)
            renew, peak, sql = measure(lambda b=batch_id: renew_once(company, b))
            renew_base, _, _ = measure(same_writes)
            out.append(Row(f"Import renew ({fmt})", f"{rows // 2:,}", renew, renew_base, peak, sql))
        small = make_files(Path(tmp), rows // 10)["csv"]
        for label, path in (("10k", small), ("100k", files["csv"])):
            readings.append(
                Reading(
                    f"Review peak memory ({label} rows, CSV)",
                    label,
                    peak_mb(lambda p=path: review_once(company, p)),
                    "MB",
                )
            )
        for label, fn in (("openpyxl read-only", parse_openpyxl), ("calamine", parse_calamine)):
            readings.append(
                Reading(
                    f"Bare parse XLSX: {label}",
                    f"{rows:,}",
                    timed(lambda f=fn: f(files["xlsx"])) * 1000,
                    "ms",
                )
            )
        readings.append(
            Reading(
                "Bare parse CSV: csv module",
                f"{rows:,}",
                timed(lambda: parse_csv(files["csv"])) * 1000,
                "ms",
            )
        )
    return out, readings


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("databases", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    for kind in args.databases:
        rows, readings = run(kind, args.rows)
        print_table(kind, rows)
        print_readings(kind, readings)
