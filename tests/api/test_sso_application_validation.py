"""Every refusal of an SSO application body is a 400 that names the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import Org, link_app, saml_app


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in keys}


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    assert response.json["http"] == 400
    assert response.json["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(without(saml_app(), "acs_url"), "acs_url", id="saml-without-acs_url"),
        pytest.param(without(saml_app(), "entity_id"), "entity_id", id="saml-without-entity_id"),
        pytest.param(saml_app(acs_url="/saml/acs"), "acs_url", id="acs_url-not-absolute"),
        pytest.param(saml_app(acs_url="sp.example.com/acs"), "acs_url", id="acs_url-without-scheme"),
        pytest.param(saml_app(acs_url="http://sp.example.com/acs"), "acs_url", id="acs_url-http-remote"),
        pytest.param(saml_app(start_url="http://sp.example.com/"), "start_url", id="start_url-http-remote"),
        pytest.param(saml_app(signed="sometimes"), "signed", id="signed-unknown"),
        pytest.param(saml_app(name_id="favourite_colour"), "name_id", id="name_id-unknown"),
        pytest.param(saml_app(name_id_format="urn:bogus"), "name_id_format", id="name_id_format-unknown"),
        pytest.param(saml_app(mappings={"email": "password_hash"}), "mappings.email", id="mapping-to-secret-field"),
        pytest.param(saml_app(colour="blue"), "colour", id="unknown-field"),
        pytest.param(without(link_app(), "url"), "url", id="none-without-url"),
        pytest.param(saml_app(authentication_type="OIDC"), "authentication_type", id="authentication_type-unknown"),
        pytest.param(saml_app(name=None), "name", id="name-null"),
        pytest.param(saml_app(order="first"), "order", id="order-not-a-number"),
        pytest.param(saml_app(entity_id="not a uri"), "entity_id", id="entity_id-not-a-uri"),
        pytest.param(saml_app(allow_sha1_signatures="yes"), "allow_sha1_signatures", id="allow_sha1-not-a-boolean"),
        pytest.param(saml_app(allow_sha1_signatures=1), "allow_sha1_signatures", id="allow_sha1-a-number"),
        pytest.param(saml_app(mappings={"mail": {"value": 1}}), "mappings.mail", id="mapping-constant-number"),
        pytest.param(saml_app(mappings={"mail": ["email", "nope"]}), "mappings.mail", id="mapping-list-unknown"),
        pytest.param(saml_app(mappings={"mail": {"field": "email", "name_format": "x"}}), "mappings.mail", id="fmt"),
        pytest.param(
            saml_app(mappings={"mail": {"field": "email", "x": 1}}), "mappings.mail", id="mapping-unknown-key"
        ),
        pytest.param(saml_app(name_id="brand_ids"), "name_id", id="name_id-multi-valued"),
        pytest.param(saml_app(name_id="attributes.no spaces"), "name_id", id="name_id-bad-custom-key"),
        pytest.param(saml_app(signature_algorithm="rsa-sha1"), "signature_algorithm", id="signature_algorithm-sha1"),
        pytest.param(saml_app(affiliations=["not a uri"]), "affiliations", id="affiliation-not-a-uri"),
        pytest.param(saml_app(affiliations="https://a.example.com"), "affiliations", id="affiliations-not-a-list"),
        pytest.param(saml_app(attribute_consuming_services=[-1]), "attribute_consuming_services", id="acs-index"),
    ],
)
def test_create_refuses_a_bad_field_naming_it(apps, org: Org, body, field):
    assert_refused(apps.create(org.admin, org.brand, body), field)
    assert apps.listed(org.admin, org.brand) == []


@pytest.mark.parametrize("body", [[saml_app()], "a string", 42], ids=["list", "string", "number"])
def test_a_body_that_is_not_a_json_object_is_refused(apps, org: Org, body):
    assert_refused(apps.create(org.admin, org.brand, body), "body")


def test_a_body_that_is_not_json_is_refused(apps, org: Org):
    response = apps.client.post(
        apps.path(org.brand), data="name=x", content_type="text/plain", headers=apps.headers(org.admin)
    )
    assert_refused(response, "body")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_http_is_accepted_on_a_loopback_host(apps, org: Org, host):
    acs_url = f"http://{host}:8080/saml/acs"
    assert apps.created(org.admin, org.brand, saml_app(acs_url=acs_url))["acs_url"] == acs_url


def test_a_name_id_format_may_be_given_by_its_short_name(apps, org: Org):
    data = apps.created(org.admin, org.brand, saml_app(name_id_format="persistent"))
    assert data["name_id_format"] == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


def test_every_mapping_form_and_the_new_fields_are_kept_as_sent(apps, org: Org):
    mappings = {
        "mlsid": "attributes.mlsid",
        "names": ["first_name", "last_name"],
        "tier": {"value": "gold"},
        "groups": {"values": ["agents", "staff"]},
        "urn:oid:0.9.2342.19200300.100.1.3": {"field": "email", "name_format": "uri", "friendly_name": "mail"},
        "brands": "brand_ids",
    }
    data = apps.created(
        org.admin,
        org.brand,
        saml_app(
            mappings=mappings,
            name_id="attributes.mlsid",
            name_id_format="none",
            signature_algorithm="rsa-sha384",
            affiliations=["https://affiliation.example.com"],
        ),
    )
    assert data["mappings"] == mappings
    assert (data["name_id"], data["name_id_format"]) == ("attributes.mlsid", "none")
    assert data["signature_algorithm"] == "rsa-sha384"
    assert data["affiliations"] == ["https://affiliation.example.com"]


def test_a_start_url_longer_than_80_bytes_is_refused_saying_why(apps, org: Org):
    fits = "https://sp.example.com/" + "a" * (80 - len("https://sp.example.com/"))
    assert apps.created(org.admin, org.brand, saml_app(start_url=fits))["start_url"] == fits
    too_long = "https://sp.example.com/" + "é" * 29  # 23 + 58 bytes: short in characters, long in bytes
    response = apps.create(org.admin, org.brand, saml_app(start_url=too_long))
    assert_refused(response, "start_url")
    assert "RelayState" in response.json["message"] and "80 bytes" in response.json["message"]
    created = apps.created(org.admin, org.brand, saml_app(name="Other"))
    assert_refused(apps.update(org.admin, org.brand, created["id"], {"start_url": too_long}), "start_url")


def test_update_refuses_a_bad_field_naming_it_and_keeps_the_app(apps, org: Org):
    created = apps.created(org.admin, org.brand)
    assert_refused(apps.update(org.admin, org.brand, created["id"], {"acs_url": "http://sp.example.com/"}), "acs_url")
    assert_refused(apps.update(org.admin, org.brand, created["id"], {"acs_url": None}), "acs_url")
    (listed,) = apps.listed(org.admin, org.brand)
    assert listed["acs_url"] == created["acs_url"]


def test_update_by_body_without_an_id_is_refused_naming_id(apps, org: Org):
    response = apps.client.put(apps.path(org.brand), json={"name": "x"}, headers=apps.headers(org.admin))
    assert_refused(response, "id")


@pytest.mark.parametrize(
    ("query", "field"), [({"limit": 0}, "limit"), ({"start": -1}, "start"), ({"limit": "ten"}, "limit")]
)
def test_list_refuses_a_bad_page_naming_the_parameter(apps, org: Org, query, field):
    assert_refused(apps.list(org.agent, org.brand, **query), field)
