"""Every model, imported so that the metadata (and Alembic) sees every table."""

from app.models.company import Company, CompanyKind, CompanyTree
from app.models.learner import Learner, normalise_email
from app.models.setting import AppSetting
from app.models.user import AppUser

__all__ = [
    "AppSetting",
    "AppUser",
    "Company",
    "CompanyKind",
    "CompanyTree",
    "Learner",
    "normalise_email",
]
