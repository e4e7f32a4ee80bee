"""Directory sync: `PUT /companies/{id}/learners:bulk` adds and updates people by
email through Import Learners' rules, all or nothing."""

import os

from sqlalchemy import func, select

from app.models import ImportBatch, Learner
from app.services.learners import set_learners_active
from tests.factories import replace_actor_in

NAMES = [
    ("Zoë", "O'Brien, Jr."),
    ("Ana; María", 'Silva "Nana"'),
    ("=cmd", "Ng"),
]


def sync(api, company, people, **extra):
    return api("partner").call(
        "PUT", f"/companies/{company.id}/learners:bulk", json={"learners": people, **extra}
    )


def count(session, company):
    session.expire_all()
    return session.scalar(select(func.count(Learner.id)).where(Learner.company_id == company.id))


def test_new_people_are_added_and_known_ones_updated(tree, api, session):
    company = tree.customer
    known = tree.people[company.name][0]
    people = [
        {"email": f"new{i}@example.com", "first_name": first, "last_name": last}
        for i, (first, last) in enumerate(NAMES)
    ]
    people.append(
        {"email": known.email.upper(), "department": "Finance", "last_active_on": "2026-11-30"}
    )
    answer = sync(api, company, people)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {
        "added": 3,
        "updated": 1,
        "unchanged": 0,
        "deactivated": 0,
        "licensed": 0,
    }
    added = {
        learner.email: (learner.first_name, learner.last_name)
        for learner in session.scalars(
            select(Learner).where(Learner.email.like("new%@example.com"))
        )
    }
    assert added == {f"new{i}@example.com": names for i, names in enumerate(NAMES)}
    session.refresh(known)
    assert known.department == "Finance" and known.last_active_on.isoformat() == "2026-11-30"
    again = sync(api, company, people).get_json()
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 4)


def test_one_refused_person_refuses_the_call_and_changes_nothing(tree, api, session, app):
    company = tree.customer
    before = count(session, company)
    uploads = set(os.listdir(app.config["UPLOAD_FOLDER"]))
    people = [
        {"email": "fine@example.com", "first_name": "Fine", "last_name": "Person"},
        {"email": "not-an-address", "first_name": "Bad", "last_name": "Address"},
        {"email": "fine@example.com", "first_name": "Fine", "last_name": "Again"},
        {"email": "nameless@example.com"},
    ]
    answer = sync(api, company, people)
    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["field"] == "learners"
    assert problem["detail"].startswith("3 of 4 people refused, nothing changed")
    assert [e["index"] for e in problem["errors"]] == [1, 2, 3]
    assert "duplicate" in problem["errors"][1]["reason"]
    assert "first and a last name" in problem["errors"][2]["reason"]
    assert count(session, company) == before
    assert session.scalar(select(func.count(ImportBatch.id))) == 0
    assert set(os.listdir(app.config["UPLOAD_FOLDER"])) == uploads  # no file left behind


def test_more_than_a_thousand_people_are_refused_before_anything(tree, api, session):
    people = [
        {"email": f"p{i}@example.com", "first_name": "P", "last_name": "Q"} for i in range(1001)
    ]
    answer = sync(api, tree.customer, people)
    assert answer.status_code == 422 and answer.get_json()["field"].startswith("learners")


def test_a_deactivated_person_is_passed_over_not_reactivated(tree, api, session):
    company = tree.customer
    leaver = tree.people[company.name][1]
    set_learners_active(replace_actor_in(company), [leaver.id], False)
    session.commit()
    answer = sync(api, company, [{"email": leaver.email, "first_name": "Back"}])
    assert answer.status_code == 200
    assert answer.get_json()["deactivated"] == 1
    session.refresh(leaver)
    assert not leaver.active and leaver.first_name != "Back"


def test_new_people_get_free_seats_when_the_company_licenses_automatically(tree, api, session):
    from tests.factories import assigned_order

    assigned_order(tree.customer, 2)
    session.commit()
    people = [
        {"email": f"seat{i}@example.com", "first_name": "S", "last_name": "T"} for i in range(2)
    ]
    assert sync(api, tree.customer, people).get_json()["licensed"] == 2
    answer = sync(
        api,
        tree.customer,
        [{"email": "late@example.com", "first_name": "L", "last_name": "M"}],
        auto_license=False,
    )
    assert answer.get_json()["licensed"] == 0
