"""GET /metadata and GET /sso_applications/<id>/metadata: the IdP as service providers import it."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from tests.api.helpers import NS, Org, link_app, saml_app

REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
NAMEID_FORMATS = {
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
}


@pytest.fixture
def keyring(app):
    return app.extensions["idp"].keyring


@pytest.fixture
def certificate_base64(keys_dir) -> str:
    """The signing certificate as the keys folder holds it, read without the service's help."""
    cert = x509.load_pem_x509_certificate((keys_dir / "signing.crt").read_bytes())
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))


def idp_descriptor(root: etree._Element) -> etree._Element:
    assert root.tag == f"{{{NS['md']}}}EntityDescriptor"
    (descriptor,) = root.findall("md:IDPSSODescriptor", NS)
    return descriptor


def test_metadata_is_served_as_saml_metadata(client):
    response = client.get("/metadata")
    assert response.status_code == 200
    assert response.mimetype == "application/samlmetadata+xml"


def test_metadata_names_the_configured_entity_id(client, settings):
    root = parse(client.get("/metadata").data)
    assert root.get("entityID") == settings.entity_id


def test_metadata_publishes_the_signing_certificate(client, keyring, certificate_base64):
    descriptor = idp_descriptor(parse(client.get("/metadata").data))
    published = descriptor.xpath(
        "md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=NS
    )
    assert [text.strip() for text in published] == [keyring.certificate_base64]
    assert published[0].strip() == certificate_base64


def test_metadata_offers_single_sign_on_by_redirect_and_by_post(client):
    descriptor = idp_descriptor(parse(client.get("/metadata").data))
    services = descriptor.findall("md:SingleSignOnService", NS)
    assert {service.get("Binding") for service in services} == {REDIRECT, POST}
    assert all(service.get("Location", "").startswith(("https://", "http://")) for service in services)


def test_metadata_lists_the_four_name_id_formats(client):
    descriptor = idp_descriptor(parse(client.get("/metadata").data))
    assert {element.text for element in descriptor.findall("md:NameIDFormat", NS)} == NAMEID_FORMATS


def test_python3_saml_reads_the_entity_id_and_certificate(client, settings, certificate_base64):
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(client.get("/metadata").text)
    assert parsed["idp"]["entityId"] == settings.entity_id
    assert parsed["idp"]["x509cert"] == certificate_base64
    assert parsed["idp"]["singleSignOnService"]["binding"] == REDIRECT


def test_an_apps_metadata_uses_its_issuer_as_entity_id(apps, client, org: Org, certificate_base64):
    created = apps.created(org.admin, org.brand, saml_app())
    response = client.get(f"/sso_applications/{created['id']}/metadata")
    assert response.status_code == 200
    assert response.mimetype == "application/samlmetadata+xml"
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(response.text)
    assert parsed["idp"]["entityId"] == created["issuer"]
    assert parsed["idp"]["x509cert"] == certificate_base64


def test_an_apps_metadata_follows_an_explicit_issuer(apps, client, org: Org):
    created = apps.created(org.admin, org.brand, saml_app(issuer="urn:example:idp:acme"))
    root = parse(client.get(f"/sso_applications/{created['id']}/metadata").data)
    assert root.get("entityID") == "urn:example:idp:acme"


def test_the_metadata_of_an_unknown_app_is_not_found(client):
    assert client.get("/sso_applications/no-such-app/metadata").status_code == 404


def test_an_app_without_saml_has_no_metadata(apps, client, org: Org):
    created = apps.created(org.admin, org.brand, link_app())
    assert client.get(f"/sso_applications/{created['id']}/metadata").status_code == 404


def test_a_deleted_apps_metadata_is_not_found(apps, client, org: Org):
    created = apps.created(org.admin, org.brand, saml_app())
    apps.delete(org.admin, org.brand, created["id"])
    assert client.get(f"/sso_applications/{created['id']}/metadata").status_code == 404
