"""The API's operations: each translates HTTP to the same service calls and
tenancy as the screens."""

from __future__ import annotations

from sqlalchemy import func, select

from app.api import in_view, operation, page
from app.api import schemas as s
from app.models import Company, Learner
from app.services import learners
from app.tenancy import Screen, get_scoped, require_company, screen_scope


@operation(
    "/companies",
    "GET",
    "The companies in the key's scope, by id.",
    query=s.CompanyQuery,
    response=s.page_of(s.Company),
)
def list_companies(actor, query):
    where = [screen_scope(actor, Company.id, Screen.PARTNER)]
    if "kind" in query:
        where.append(Company.kind == query["kind"])
    if "parent_id" in query:
        where.append(Company.parent_id == query["parent_id"])
    return page(
        select(Company).where(*where).order_by(Company.id),
        query,
        select(func.count()).select_from(Company).where(*where),
    )


@operation("/companies/<int:company_id>", "GET", "One company.", response=s.Company)
def show_company(actor, company_id):
    return require_company(actor, company_id)


@operation(
    "/companies/<int:company_id>/learners",
    "GET",
    "A company's learners, by last name.",
    query=s.LearnerQuery,
    response=s.page_of(s.Learner),
)
def list_learners(actor, company_id, query):
    company = require_company(actor, company_id)
    where = [Learner.company_id == company.id]
    if "active" in query:
        where.append(Learner.active == query["active"])
    return page(
        select(Learner).where(*where).order_by(Learner.last_name, Learner.id),
        query,
        select(func.count()).select_from(Learner).where(*where),
    )


@operation(
    "/companies/<int:company_id>/learners",
    "POST",
    "Add a learner to a company (licensed at once when the company auto-licenses).",
    body=s.NewLearner,
    response=s.Learner,
    status=201,
)
def add_learner(actor, company_id, body):
    return learners.add_learner(in_view(actor, company_id), company_id, **body)


@operation("/learners/<int:learner_id>", "GET", "One learner.", response=s.Learner)
def show_learner(actor, learner_id):
    return get_scoped(actor, Learner, learner_id)
