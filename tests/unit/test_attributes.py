"""Who the SP is told logged in: NameID choice and mapped attributes."""

from __future__ import annotations

import pytest

from idp.errors import LaunchError, ValidationError
from idp.models import Brand, SsoApplication, User
from idp.saml.attributes import NO_NAME_ID, parse_mapping, resolve_subject
from idp.saml.names import (
    ATTRNAME_BASIC,
    ATTRNAME_UNSPECIFIED,
    ATTRNAME_URI,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    NAMEID_TRANSIENT,
    NAMEID_UNSPECIFIED,
)

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


def values(found) -> dict[str, list[str]]:
    return {attribute.name: list(attribute.values) for attribute in found.attributes}


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
    assert values(mapped) == {
        "mail": ["ada@example.com"],
        "brand": ["Acme Downtown"],
        "brandId": ["b1"],
        "name": ["Ada Lovelace"],
        "role": ["Agent"],
    }


def test_no_mappings_means_no_attributes():
    assert subject(app()).attributes == ()


OFFICE = Brand("b2", "Acme Uptown", "Office", "b0", 0.0, 0.0)
MEMBER_OF = ((BRAND, "Agent"), (OFFICE, "Admin"), (Brand("b3", "Team", "Team", "b1", 0.0, 0.0), "Agent"))
AGENT = user(attributes={"mlsid": "M-1", "office_mlsid": ["O-1", "O-2"], "license_number": ""})


def member_subject(application: SsoApplication):
    return resolve_subject(
        application,
        AGENT,
        BRAND,
        "Agent",
        pairwise_secret=SECRET,
        idp_entity_id="https://idp.example.com",
        sp_entity_id="https://sp.example.com",
        member_of=MEMBER_OF,
    )


def test_every_mapping_form_gives_its_values():
    mapped = member_subject(
        app(
            mappings={
                "mlsid": "attributes.mlsid",
                "offices": "attributes.office_mlsid",
                "names": ["first_name", "phone_number", "last_name"],
                "tier": {"value": "gold"},
                "groups": {"values": ["agents", "staff"]},
                "urn:oid:0.9.2342.19200300.100.1.3": {"field": "email", "name_format": "uri", "friendly_name": "mail"},
                "brands": "brand_ids",
                "brandNames": "brand_names",
                "roles": {"field": "roles", "name_format": "unspecified"},
                "license": "attributes.license_number",
                "missing": "attributes.nar_number",
            }
        )
    )
    assert values(mapped) == {
        "mlsid": ["M-1"],
        "offices": ["O-1", "O-2"],
        "names": ["Ada", "Lovelace"],
        "tier": ["gold"],
        "groups": ["agents", "staff"],
        "urn:oid:0.9.2342.19200300.100.1.3": ["ada@example.com"],
        "brands": ["b1", "b2", "b3"],
        "brandNames": ["Acme Downtown", "Acme Uptown", "Team"],
        "roles": ["Agent", "Admin"],
    }
    by_name = {attribute.name: attribute for attribute in mapped.attributes}
    assert by_name["urn:oid:0.9.2342.19200300.100.1.3"].friendly_name == "mail"
    assert by_name["urn:oid:0.9.2342.19200300.100.1.3"].name_format == ATTRNAME_URI
    assert by_name["roles"].name_format == ATTRNAME_UNSPECIFIED
    assert by_name["mlsid"].name_format == ATTRNAME_BASIC


def test_a_custom_attribute_may_be_the_name_id():
    found = member_subject(app(name_id="attributes.mlsid"))
    assert (found.name_id, found.name_id_format) == ("M-1", NAMEID_UNSPECIFIED)


def test_a_custom_attribute_with_several_values_is_no_name_id():
    with pytest.raises(LaunchError, match="several"):
        member_subject(app(name_id="attributes.office_mlsid"))


def test_name_id_format_none_gives_no_name_id_but_the_attributes():
    found = member_subject(app(name_id_format=NO_NAME_ID, mappings={"mlsid": "attributes.mlsid"}))
    assert found.name_id is None
    assert values(found) == {"mlsid": ["M-1"]}


@pytest.mark.parametrize(
    "mapping",
    [
        pytest.param("password_hash", id="secret-field"),
        pytest.param("attributes.", id="empty-custom-key"),
        pytest.param("attributes.a b", id="custom-key-with-space"),
        pytest.param([], id="empty-list"),
        pytest.param(["email", 3], id="list-with-a-number"),
        pytest.param(7, id="number"),
        pytest.param({"value": 3}, id="constant-number"),
        pytest.param({"values": []}, id="no-constants"),
        pytest.param({"values": "x"}, id="values-not-a-list"),
        pytest.param({"field": "email", "value": "x"}, id="field-and-value"),
        pytest.param({"name_format": "uri"}, id="no-source"),
        pytest.param({"field": "email", "name_format": "URI"}, id="unknown-name-format"),
        pytest.param({"field": "email", "friendly": "x"}, id="unknown-key"),
        pytest.param({"field": "email", "friendly_name": 1}, id="friendly-name-number"),
    ],
)
def test_anything_else_is_refused_naming_the_mapping(mapping):
    with pytest.raises(ValidationError) as refused:
        parse_mapping("mail", mapping)
    assert refused.value.field == "mappings.mail"
