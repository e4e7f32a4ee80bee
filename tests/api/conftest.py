import pytest

from app.extensions import db
from app.services import api_keys
from app.tenancy import system_actor


def make_key(user, name="PSA", **options) -> str:
    _, text = api_keys.create(system_actor("cli"), user, name, **options)
    db.session.commit()
    return text


@pytest.fixture
def keys(tree):
    """A key per role's user of the tree (partner, sub, customer, ..., admin)."""
    return {role: make_key(user, f"{role} key") for role, user in tree.users.items()}


class Api:
    def __init__(self, client, key=None):
        self.client, self.key = client, key

    def headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return {**headers, **(extra or {})}

    def get(self, path, headers=None, **params):
        return self.client.get(f"/api/v1{path}", query_string=params, headers=self.headers(headers))

    def post(self, path, json=None, headers=None):
        return self.client.post(f"/api/v1{path}", json=json, headers=self.headers(headers))

    def call(self, method, path, json=None):
        return self.client.open(f"/api/v1{path}", method=method, json=json, headers=self.headers())


@pytest.fixture
def api(client, keys):
    return lambda role=None, key=None: Api(client, key or (keys[role] if role else None))
