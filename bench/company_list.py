"""The Company list of a partner with 2,000 customers, through the test client with
the real templates, against two baselines measured in the same run: the same page
over an empty subtree, and the bare SQL that fetches the page of rows and its count.

    .venv/bin/python bench/company_list.py [sqlite|postgresql ...]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sqlalchemy import func, select, text

from bench.harness import Row, bench_app, measure, print_table


def run(db_kind: str) -> list[Row]:
    from app.extensions import db
    from app.models import Company
    from tests import factories
    from tests.conftest import login

    with tempfile.TemporaryDirectory() as tmp, bench_app(db_kind, Path(tmp)) as app:
        big = factories.company(None, "partner", "Big MSP")
        empty = factories.company(None, "partner", "Empty MSP")
        factories.bulk_customers(big, 2000)
        big_am, empty_am = factories.manager(big, "big_am"), factories.manager(empty, "empty_am")
        db.session.commit()

        def page(user, size):
            client = app.test_client()
            login(client, user)
            url = f"/companies/list/?psize_CompanyView={size}"
            return lambda: client.get(url).status_code

        def bare_sql(size):
            subtree = text("SELECT descendant_id FROM company_tree WHERE ancestor_id = :a")
            rows = (
                select(Company)
                .where(Company.id.in_(subtree.bindparams(a=big.id)))
                .order_by(Company.name)
                .limit(size)
            )
            count = select(func.count()).where(Company.id.in_(subtree.bindparams(a=big.id)))

            def fetch():
                db.session.execute(rows).all()
                db.session.scalar(count)

            return fetch

        rows = []
        for size in (10, 100):
            ours, peak, statements = measure(page(big_am, size))
            empty_page, _, _ = measure(page(empty_am, size))
            sql, _, _ = measure(bare_sql(size))
            rows.append(
                Row(
                    f"Company list, page of {size}",
                    "2,000",
                    ours,
                    empty_page + sql,
                    peak,
                    statements,
                )
            )
        return rows


if __name__ == "__main__":
    for kind in sys.argv[1:] or ["sqlite", "postgresql"]:
        print_table(kind, run(kind))
