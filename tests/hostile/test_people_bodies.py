"""Hostile bodies on the people endpoints: no input answers 5xx, and what is stored still reads back."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from tests.api.people_helpers import person
from tests.hostile.test_json_api import SETTINGS, assert_clean_refusal, bodies

MEMBER_FIELDS = ["email", "first_name", "last_name", "role", "attributes", "invite"]
USER_FIELDS = ["first_name", "last_name", "phone_number", "attributes", "id", "email"]


@pytest.fixture
def env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "IDP_OUTBOX": str(tmp_path / "outbox")}


@pytest.fixture
def admin(make, api):
    brand = make.brand("Acme")
    user = person(make, brand, "Admin", "Ann", "Admin")
    agent = person(make, brand, "Agent", "Ada", "Agent")
    return brand, agent, api.headers(user)


@SETTINGS
@given(body=bodies(MEMBER_FIELDS))
def test_adding_a_member_never_fails_on_its_body(client, admin, body) -> None:
    brand, agent, headers = admin
    assert_clean_refusal(client.post(f"/brands/{brand.id}/members", json=body, headers=headers))
    assert_clean_refusal(client.put(f"/brands/{brand.id}/members/{agent.id}", json=body, headers=headers))
    assert client.get(f"/brands/{brand.id}/members", headers=headers).status_code == 200


@SETTINGS
@given(body=bodies(USER_FIELDS))
def test_changing_a_user_never_fails_on_its_body(client, admin, body) -> None:
    _, agent, headers = admin
    assert_clean_refusal(client.put(f"/users/{agent.id}", json=body, headers=headers))
    assert client.get(f"/users/{agent.id}", headers=headers).status_code == 200
