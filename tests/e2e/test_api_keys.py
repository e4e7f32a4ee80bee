"""A customer's manager creates an API key on the API keys screen, a script uses it,
the manager revokes it; the API reference page reads the OpenAPI document."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser


def test_a_key_is_created_shown_once_used_and_revoked(page, live_server):
    sign_in(page, live_server, "customer2")
    page.locator(".navbar-right .dropdown-toggle").click()
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("Browser sync")
    page.get_by_label("Read-only").check()
    page.get_by_role("button", name="Create key").click()
    shown = page.locator("[data-api-key-text]")
    expect(shown).to_be_visible()
    key = shown.input_value()
    assert key.startswith("lr_")
    headers = {"Authorization": f"Bearer {key}"}
    answer = page.request.get(f"{live_server}/api/v1/companies", headers=headers)
    assert answer.status == 200 and answer.json()["total"] == 1
    refused = page.request.post(
        f"{live_server}/api/v1/companies", headers=headers, data={"name": "Nope"}
    )
    assert refused.status == 403  # read-only

    page.goto(f"{live_server}/api-keys/")
    row = page.locator("[data-api-keys] tr", has_text="Browser sync")
    expect(row).to_contain_text("Read-only")
    expect(row).to_contain_text("from")  # its last use, with the address
    assert key not in page.content()  # never shown again
    row.get_by_role("button", name="Revoke Browser sync").click()
    expect(page.locator(".alert-success")).to_contain_text("revoked")
    answer = page.request.get(f"{live_server}/api/v1/companies", headers=headers)
    assert answer.status == 401


def test_the_api_reference_lists_the_operations(page, live_server):
    page.goto(f"{live_server}/api/v1/docs")
    expect(page.get_by_role("heading", name="License renewal panel API")).to_be_visible()
    expect(page.locator("#operations section").first).to_be_visible()
    expect(page.locator("#operations")).to_contain_text(
        "/api/v1/companies/{company_id}/allocations"
    )
