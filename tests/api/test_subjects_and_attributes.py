"""Who an SP is told signed in: custom and multi-valued attributes, every mapping form, an assertion
without NameID, the app's signature algorithm, and what an AuthnRequest's NameIDPolicy and
AttributeConsumingServiceIndex may ask.

Each Response is judged by python3-saml (strict), pysaml2, `xmlsec1 --verify` and the SAML schemas.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from tests.api.helpers import NS, Org, parse_page, saml_app, saml_response
from tests.e2e.sp_helpers import authn_request_xml, redirect_query, status_codes
from tests.hostile.front import SAME_ORIGIN, sign_in
from tests.independent import (
    decode,
    protocol_schema_errors,
    pysaml2_accepts,
    python3_saml_accepts,
    xmlsec1_verifies,
)

URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
MAIL = "urn:oid:0.9.2342.19200300.100.1.3"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
AFFILIATION = "https://affiliation.example.com"
CUSTOM = {"mlsid": "M-1", "nar_number": "N-9", "office_mlsid": ["O-1", "O-2"], "license_number": "L-7"}
MAPPINGS = {
    "mlsid": "attributes.mlsid",
    "office_mlsid": "attributes.office_mlsid",
    "names": ["first_name", "last_name"],
    "tier": {"value": "gold"},
    "groups": {"values": ["agents", "staff"]},
    MAIL: {"field": "email", "name_format": "uri", "friendly_name": "mail"},
    "brands": {"field": "brand_names", "name_format": "unspecified"},
    "brand_ids": "brand_ids",
    "roles": "roles",
}


@pytest.fixture
def keyring(app):
    return app.extensions["idp"].keyring


@pytest.fixture
def agent(org: Org, make, store):
    """The org's agent with custom attributes, also an admin of a second brand."""
    agent = dataclasses.replace(org.agent, attributes=CUSTOM)
    store.save_user(agent)
    make.member(agent, make.brand("Acme Uptown"), role="Admin")
    return agent


def launched(apps, client, org: Org, user, body: dict) -> tuple[dict, str]:
    """Create the app, open the link `user` gets for it; the app and the SAMLResponse posted."""
    created = apps.created(org.admin, org.brand, body)
    (listed,) = [item for item in apps.listed(user, org.brand) if item["id"] == created["id"]]
    response = client.get(listed["open_url"])
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    (form,) = parse_page(response.get_data(as_text=True)).forms
    return created, form.hidden["SAMLResponse"]


def python3_saml(encoded: str, app: dict, keyring, *, want_name_id: bool = True):
    return python3_saml_accepts(
        encoded,
        idp_entity_id=app["issuer"],
        idp_certificate_b64=keyring.certificate_base64,
        sp_entity_id=app["entity_id"],
        acs_url=app["acs_url"],
        want_assertions_signed=True,
        want_messages_signed=True,
        want_name_id=want_name_id,
    )


def pysaml2(encoded: str, app: dict, client, tmp_path, *, metadata_path: str | None = None):
    """pysaml2's reading, configured from the app's own metadata (launch links) or `metadata_path`
    (`/metadata`, whose entityID answers to `/saml/sso` carry)."""
    metadata = client.get(metadata_path or f"/sso_applications/{app['id']}/metadata").get_data()
    return pysaml2_accepts(
        encoded, idp_metadata=metadata, sp_entity_id=app["entity_id"], acs_url=app["acs_url"], workdir=tmp_path
    )


EXPECTED = {
    "mlsid": ["M-1"],
    "office_mlsid": ["O-1", "O-2"],
    "names": ["Ada", "Agent"],
    "tier": ["gold"],
    "groups": ["agents", "staff"],
    MAIL: None,  # the agent's address, filled in by the test
    "brands": ["Acme Realty", "Acme Uptown"],
    "roles": ["Agent", "Admin"],
}


def expected(agent) -> dict[str, list[str]]:
    return {**EXPECTED, MAIL: [agent.email]}


def test_every_mapping_form_reaches_python3_saml_and_pysaml2(apps, client, org, agent, keyring, tmp_path):
    app, encoded = launched(apps, client, org, agent, saml_app(mappings=MAPPINGS))
    assert protocol_schema_errors(decode(encoded)) == []

    login = python3_saml(encoded, app, keyring)
    brand_ids = login.attributes.pop("brand_ids")
    assert login.attributes == expected(agent)
    assert len(brand_ids) == 2 and org.brand.id in brand_ids

    read = pysaml2(encoded, app, client, tmp_path)
    assert read.name_id == agent.email
    assert {name: values for name, values in read.attributes.items() if name != "brand_ids"} == expected(agent)
    assert read.name_formats[MAIL] == URI and read.friendly_names[MAIL] == "mail"
    assert read.name_formats["brands"] == UNSPECIFIED and read.name_formats["mlsid"] == BASIC


def test_a_custom_attribute_as_name_id(apps, client, org, agent, keyring):
    app, encoded = launched(
        apps, client, org, agent, saml_app(name_id="attributes.mlsid", mappings={"nar": "attributes.nar_number"})
    )
    login = python3_saml(encoded, app, keyring)
    assert (login.name_id, login.name_id_format) == ("M-1", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
    assert login.attributes == {"nar": ["N-9"]}


def test_name_id_format_none_sends_an_assertion_without_name_id(apps, client, org, agent, keyring, tmp_path):
    app, encoded = launched(
        apps, client, org, agent, saml_app(name_id_format="none", mappings={"mlsid": "attributes.mlsid"})
    )
    xml = decode(encoded)
    assert protocol_schema_errors(xml) == []
    assert saml_response(encoded).find("saml:Assertion/saml:Subject/saml:NameID", NS) is None
    assert saml_response(encoded).find("saml:Assertion/saml:Subject/saml:SubjectConfirmation", NS) is not None

    login = python3_saml(encoded, app, keyring, want_name_id=False)
    assert login.name_id is None and login.attributes == {"mlsid": ["M-1"]}
    read = pysaml2(encoded, app, client, tmp_path)
    assert read.name_id is None and read.attributes == {"mlsid": ["M-1"]}
    # python3-saml refuses it when it wants a NameID: the absence is real, not an empty element.
    with pytest.raises(Exception, match="NameID"):
        python3_saml(encoded, app, keyring, want_name_id=True)


@pytest.mark.parametrize(
    ("algorithm", "signature_method", "digest_method"),
    [
        (None, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256"),
        (
            "rsa-sha384",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            "http://www.w3.org/2001/04/xmldsig-more#sha384",
        ),
        ("rsa-sha512", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", "http://www.w3.org/2001/04/xmlenc#sha512"),
    ],
)
def test_the_apps_signature_algorithm_signs_response_and_assertion(
    apps, client, org, agent, keyring, tmp_path, algorithm, signature_method, digest_method
):
    app, encoded = launched(
        apps, client, org, agent, saml_app(signature_algorithm=algorithm, mappings={"mlsid": "attributes.mlsid"})
    )
    xml = decode(encoded)
    root = etree.fromstring(xml)
    assert root.xpath("//ds:SignatureMethod/@Algorithm", namespaces=NS) == [signature_method] * 2
    assert root.xpath("//ds:DigestMethod/@Algorithm", namespaces=NS) == [digest_method] * 2
    assert xmlsec1_verifies(xml, keyring.certificate_pem, "Response")
    assert xmlsec1_verifies(xml, keyring.certificate_pem, "Assertion")
    assert protocol_schema_errors(xml) == []
    assert python3_saml(encoded, app, keyring).attributes == {"mlsid": ["M-1"]}
    assert pysaml2(encoded, app, client, tmp_path).attributes == {"mlsid": ["M-1"]}


# what an AuthnRequest asks


def request_key_of(redirect) -> str:
    """The key of the kept request, from the redirect to the login page."""
    return parse_qs(urlsplit(redirect.headers["Location"]).query)["request"][0]


def answer_to(app, user, app_fields: dict, request_xml: bytes):
    """Sign `user` in through an unsigned HTTP-Redirect AuthnRequest; the form the IdP answers with."""
    client = app.test_client()
    first = client.get(f"/saml/sso?{redirect_query(request_xml)}")
    assert first.status_code == 303, first.get_data(as_text=True)[:400]
    request_key = request_key_of(first)
    resumed = sign_in(client, user, request_key=request_key)
    answer = client.get(resumed.headers["Location"])
    assert answer.status_code == 200, answer.get_data(as_text=True)[:400]
    (form,) = parse_page(answer.get_data(as_text=True)).forms
    assert form.action == app_fields["acs_url"]
    return form.hidden["SAMLResponse"]


def request_xml(sso_app: dict, *, sp_name_qualifier: str | None = None, service_index: int | None = None) -> bytes:
    root = etree.fromstring(authn_request_xml(issuer=sso_app["entity_id"], name_id_format=PERSISTENT))
    if sp_name_qualifier is not None:
        root.find("samlp:NameIDPolicy", NS).set("SPNameQualifier", sp_name_qualifier)
    if service_index is not None:
        root.set("AttributeConsumingServiceIndex", str(service_index))
    return etree.tostring(root)


@pytest.fixture
def sp_app(apps, org: Org) -> dict:
    return apps.created(
        org.admin,
        org.brand,
        saml_app(
            entity_id="https://crm.example.com/sp",
            acs_url="https://crm.example.com/acs",
            mappings={"mlsid": "attributes.mlsid"},
            affiliations=[AFFILIATION],
            attribute_consuming_services=[1],
        ),
    )


def persistent_name_id(encoded: str) -> etree._Element:
    return saml_response(encoded).find("saml:Assertion/saml:Subject/saml:NameID", NS)


def test_an_affiliation_the_app_lists_scopes_the_persistent_name_id(app, sp_app, agent, apps, org, tmp_path):
    own = persistent_name_id(answer_to(app, agent, sp_app, request_xml(sp_app)))
    assert own.get("SPNameQualifier") == sp_app["entity_id"]

    encoded = answer_to(app, agent, sp_app, request_xml(sp_app, sp_name_qualifier=AFFILIATION, service_index=1))
    shared = persistent_name_id(encoded)
    assert (shared.get("Format"), shared.get("SPNameQualifier")) == (PERSISTENT, AFFILIATION)
    assert shared.text != own.text
    # pysaml2 takes it; python3-saml (strict) knows no affiliations and refuses any SPNameQualifier but its own.
    read = pysaml2(encoded, sp_app, app.test_client(), tmp_path, metadata_path="/metadata")
    assert read.name_id == shared.text and read.attributes == {"mlsid": ["M-1"]}

    # Another member of the affiliation is given the same identifier for the user.
    sibling = apps.created(
        org.admin,
        org.brand,
        saml_app(
            entity_id="https://mail.example.com/sp",
            acs_url="https://mail.example.com/acs",
            affiliations=[AFFILIATION],
            mappings={"mlsid": "attributes.mlsid"},
        ),
    )
    assert (
        persistent_name_id(answer_to(app, agent, sibling, request_xml(sibling, sp_name_qualifier=AFFILIATION))).text
        == shared.text
    )


@pytest.mark.parametrize(
    ("asked", "second_level"),
    [
        (
            {"sp_name_qualifier": "https://elsewhere.example.com"},
            "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy",
        ),
        ({"service_index": 7}, None),
    ],
    ids=["unlisted-affiliation", "unknown-attribute-consuming-service"],
)
def test_what_the_app_does_not_know_is_answered_requester(app, sp_app, agent, keyring, asked, second_level):
    encoded = answer_to(app, agent, sp_app, request_xml(sp_app, **asked))
    xml = decode(encoded)
    root = saml_response(encoded)
    codes = status_codes(root)
    assert codes[0] == "urn:oasis:names:tc:SAML:2.0:status:Requester"
    assert codes[1:] == ([second_level] if second_level else [])
    assert root.find("saml:Assertion", NS) is None
    assert xmlsec1_verifies(xml, keyring.certificate_pem, "Response")
    assert protocol_schema_errors(xml) == []


def test_sign_out_visits_no_sp_that_was_told_no_name_id(app, apps, org: Org, agent):
    """A LogoutRequest must name the subject (Core 3.7.1), so an SP given no NameID is not sent one."""
    fields = {
        "mappings": {"mlsid": "attributes.mlsid"},
        "slo_binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
    }
    anonymous = apps.created(
        org.admin,
        org.brand,
        saml_app(
            entity_id="https://anon.example.com/sp",
            acs_url="https://anon.example.com/acs",
            slo_url="https://anon.example.com/slo",
            name_id_format="none",
            **fields,
        ),
    )
    named = apps.created(
        org.admin,
        org.brand,
        saml_app(
            entity_id="https://named.example.com/sp",
            acs_url="https://named.example.com/acs",
            slo_url="https://named.example.com/slo",
            **fields,
        ),
    )
    client = app.test_client()
    first = client.get(f"/saml/sso?{redirect_query(authn_request_xml(issuer=anonymous['entity_id']))}")
    resumed = sign_in(client, agent, request_key=request_key_of(first))
    assert (
        parse_page(client.get(resumed.headers["Location"]).get_data(as_text=True)).forms[0].action
        == anonymous["acs_url"]
    )
    second = client.get(f"/saml/sso?{redirect_query(authn_request_xml(issuer=named['entity_id']))}")
    assert parse_page(second.get_data(as_text=True)).forms[0].action == named["acs_url"]

    launcher = parse_page(client.get("/").get_data(as_text=True))
    (logout_form,) = [form for form in launcher.forms if form.action == "/logout"]
    signed_out = client.post("/logout", data=logout_form.hidden, headers=SAME_ORIGIN, follow_redirects=True)
    assert signed_out.status_code == 200, signed_out.get_data(as_text=True)[:400]
    (hop,) = parse_page(signed_out.get_data(as_text=True)).forms
    assert hop.action == named["slo_url"]
