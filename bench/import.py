"""Import Licence Renewal at scale: a 100,000-row XLSX and CSV holding the addresses
of 50,000 expired learners (and 50,000 strangers), upload→review and review→renew,
against the baseline measured in the same run: the bare parse of the same file with
the fastest reader of its format (python-calamine in-process, without the import's
child process and limits; the csv module), plus one raw SQL query matching all its
addresses (bulk-inserted into a temporary table and joined) against the company's
learners; medians of 5. The XLSX parser child's peak memory is reported.

Also: the bare parse with openpyxl read-only, python-calamine and the csv module,
and the review's peak memory at 10,000 and 100,000 rows.

    .venv/bin/python -m bench.import [sqlite|postgresql ...] [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

from bench.harness import (
    Row,
    bench_app,
    counting_statements,
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
    """The baseline's SQL: all addresses into a temporary table, one join."""
    from app.extensions import db

    connection = db.session.connection()
    connection.execute(text("CREATE TEMPORARY TABLE bench_emails (email VARCHAR(320))"))
    try:
        connection.execute(text("INSERT INTO bench_emails (email) VALUES (:email)"), emails)
        return connection.execute(
            text(
                "SELECT count(*) FROM bench_emails b JOIN learners l ON l.email = b.email "
                "AND l.company_id = :c"
            ),
            {"c": company.id},
        ).scalar()
    finally:
        connection.execute(text("DROP TABLE bench_emails"))
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


def run(db_kind: str, rows: int) -> list[Row]:
    from app.imports import reader

    out = []
    with tempfile.TemporaryDirectory() as tmp, bench_app(db_kind, Path(tmp)):
        company = seed(rows // 2)
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
                out.append(
                    Row(
                        "XLSX parser child peak RSS (RLIMIT_AS 1 GiB)",
                        f"{rows:,}",
                        0.0,
                        1.0,
                        reader.last_parser_peak_mb,
                        0,
                    )
                )
            batch_id = review_once(company, path)
            renew = timed(lambda b=batch_id: renew_once(company, b))
            out.append(Row(f"Import renew ({fmt})", f"{rows // 2:,}", renew, base, 0.0, 0))
        small = make_files(Path(tmp), rows // 10)["csv"]
        for label, path in (("10k", small), ("100k", files["csv"])):
            out.append(
                Row(
                    f"Review peak memory ({label} rows, CSV)",
                    label,
                    0.0,
                    1.0,
                    peak_mb(lambda p=path: review_once(company, p)),
                    0,
                )
            )
        for label, fn in (("openpyxl read-only", parse_openpyxl), ("calamine", parse_calamine)):
            out.append(
                Row(
                    f"Bare parse XLSX: {label}",
                    f"{rows:,}",
                    timed(lambda f=fn: f(files["xlsx"])),
                    1.0,
                    0.0,
                    0,
                )
            )
        out.append(
            Row(
                "Bare parse CSV: csv module",
                f"{rows:,}",
                timed(lambda: parse_csv(files["csv"])),
                1.0,
                0.0,
                0,
            )
        )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("databases", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    for kind in args.databases:
        print_table(kind, run(kind, args.rows))
