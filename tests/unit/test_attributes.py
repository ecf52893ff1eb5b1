"""Who the SP is told logged in: NameID choice and mapped attributes."""

from __future__ import annotations

import pytest

from idp.errors import LaunchError
from idp.models import Brand, SsoApplication, User
from idp.saml.attributes import resolve_subject
from idp.saml.names import NAMEID_EMAIL, NAMEID_PERSISTENT, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED

SECRET = b"s" * 32
BRAND = Brand("b1", "Acme Downtown", "Office", "b0", 0.0, 0.0)


def user(**overrides) -> User:
    values = {
        "id": "u1",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "password_hash": None,
        "created_at": 0.0,
        "updated_at": 0.0,
    }
    return User(**{**values, **overrides})


def app(**overrides) -> SsoApplication:
    values = {
        "id": "a1",
        "owner_brand_id": "b0",
        "name": "App",
        "authentication_type": "SAML",
        "created_at": 0.0,
        "updated_at": 0.0,
        "entity_id": "https://sp.example.com",
    }
    return SsoApplication(**{**values, **overrides})


def subject(application: SsoApplication, who: User | None = None, sp: str = "https://sp.example.com"):
    return resolve_subject(
        application,
        who or user(),
        BRAND,
        "Agent",
        pairwise_secret=SECRET,
        idp_entity_id="https://idp.example.com",
        sp_entity_id=sp,
    )


def test_the_default_name_id_is_the_email_in_email_format():
    found = subject(app())
    assert (found.name_id, found.name_id_format) == ("ada@example.com", NAMEID_EMAIL)


def test_another_name_id_field_defaults_to_the_unspecified_format():
    found = subject(app(name_id="id"))
    assert (found.name_id, found.name_id_format) == ("u1", NAMEID_UNSPECIFIED)


def test_an_explicit_format_is_kept():
    assert subject(app(name_id="email", name_id_format=NAMEID_UNSPECIFIED)).name_id_format == NAMEID_UNSPECIFIED


def test_persistent_ids_are_stable_per_user_and_sp_and_opaque():
    persistent = app(name_id_format=NAMEID_PERSISTENT)
    first, again = subject(persistent), subject(persistent)
    assert first.name_id == again.name_id
    assert "ada" not in first.name_id and "u1" not in first.name_id
    assert subject(persistent, sp="https://other.example.com").name_id != first.name_id
    assert subject(persistent, user(id="u2")).name_id != first.name_id
    assert (first.name_qualifier, first.sp_name_qualifier) == ("https://idp.example.com", "https://sp.example.com")


def test_transient_ids_are_new_every_login():
    transient = app(name_id_format=NAMEID_TRANSIENT)
    assert subject(transient).name_id != subject(transient).name_id


def test_a_missing_name_id_value_is_a_clear_launch_error():
    with pytest.raises(LaunchError, match="phone_number"):
        subject(app(name_id="phone_number"))


def test_mappings_resolve_user_and_brand_fields_and_skip_empty_values():
    mapped = subject(
        app(
            mappings={
                "mail": "email",
                "brand": "brand_name",
                "brandId": "brand_id",
                "name": "display_name",
                "phone": "phone_number",
                "role": "role",
            }
        )
    )
    assert mapped.attributes == {
        "mail": "ada@example.com",
        "brand": "Acme Downtown",
        "brandId": "b1",
        "name": "Ada Lovelace",
        "role": "Agent",
    }


def test_no_mappings_means_no_attributes():
    assert subject(app()).attributes == {}
