"""SQL helpers and the differences between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from sqlalchemy import case, func


def count_if(condition):
    """COUNT of the rows meeting `condition`, inside a grouped SELECT."""
    return func.sum(case((condition, 1), else_=0))
