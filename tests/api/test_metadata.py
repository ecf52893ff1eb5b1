"""GET /metadata and GET /sso_applications/<id>/metadata: the IdP as service providers import it."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from tests.api.helpers import NS, Org, link_app, saml_app
from tests.independent import metadata_schema_errors

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


# The algorithms an SP may sign with (SAML V2.0 Metadata Profile for Algorithm Support)

ALG = "urn:oasis:names:tc:SAML:metadata:algsupport"
STRONG_DIGESTS = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
]
STRONG_SIGNING_METHODS = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
]
SHA1_DIGEST = "http://www.w3.org/2000/09/xmldsig#sha1"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


def declared_algorithms(xml: bytes) -> tuple[list[str], list[str]]:
    """The digest and signing methods the IdP role's md:Extensions declare, in order."""
    extensions = idp_descriptor(parse(xml)).find("md:Extensions", NS)
    assert extensions is not None
    return (
        [element.get("Algorithm") for element in extensions.findall(f"{{{ALG}}}DigestMethod")],
        [element.get("Algorithm") for element in extensions.findall(f"{{{ALG}}}SigningMethod")],
    )


def pysaml2_reads_algorithms(xml: bytes, entity_id: str) -> set[str]:
    """The algsupport elements of the IdP role as pysaml2's metadata store reads them."""
    from saml2.attribute_converter import ac_factory
    from saml2.mdstore import InMemoryMetaData

    store = InMemoryMetaData(ac_factory(), None)
    store.parse(xml.decode())
    (role,) = store[entity_id]["idpsso_descriptor"]
    return {element["algorithm"] for element in role["extensions"]["extension_elements"]}


def sha1_app_metadata(apps, client, org: Org, *, allow: bool) -> tuple[dict, bytes]:
    created = apps.created(org.admin, org.brand, saml_app(allow_sha1_signatures=allow))
    assert created["allow_sha1_signatures"] is allow
    response = client.get(f"/sso_applications/{created['id']}/metadata")
    assert response.status_code == 200
    return created, response.data


def test_the_metadata_declares_the_strong_algorithms_it_accepts_and_no_sha1(client):
    digests, signing_methods = declared_algorithms(client.get("/metadata").data)

    assert digests == STRONG_DIGESTS
    assert signing_methods == STRONG_SIGNING_METHODS


def test_an_apps_metadata_declares_no_sha1_unless_the_app_allows_it(apps, client, org: Org):
    _, xml = sha1_app_metadata(apps, client, org, allow=False)

    assert declared_algorithms(xml) == (STRONG_DIGESTS, STRONG_SIGNING_METHODS)


def test_the_metadata_of_an_app_that_allows_sha1_declares_it_last(apps, client, org: Org):
    _, xml = sha1_app_metadata(apps, client, org, allow=True)

    assert declared_algorithms(xml) == ([*STRONG_DIGESTS, SHA1_DIGEST], [*STRONG_SIGNING_METHODS, RSA_SHA1])


def test_the_extensions_come_first_in_the_idp_role(client):
    """Metadata 2.4.1: Extensions precedes the KeyDescriptors in a role descriptor."""
    descriptor = idp_descriptor(parse(client.get("/metadata").data))

    assert descriptor[0].tag == f"{{{NS['md']}}}Extensions"
    assert descriptor[1].tag == f"{{{NS['md']}}}KeyDescriptor"


@pytest.mark.parametrize("allow", [False, True], ids=["without-sha1", "with-sha1"])
def test_the_metadata_is_schema_valid(apps, client, org: Org, allow):
    _, xml = sha1_app_metadata(apps, client, org, allow=allow)

    assert metadata_schema_errors(client.get("/metadata").data) == []
    assert metadata_schema_errors(xml) == []


def test_the_schema_check_would_see_misplaced_extensions(client):
    """So that the check above means something: the same metadata with Extensions after the
    KeyDescriptor, or an alg:SigningMethod without its Algorithm, is invalid."""
    root = parse(client.get("/metadata").data)
    descriptor = idp_descriptor(root)
    extensions = descriptor[0]
    descriptor.remove(extensions)
    descriptor.insert(1, extensions)
    assert metadata_schema_errors(etree.tostring(root)) != []

    root = parse(client.get("/metadata").data)
    idp_descriptor(root)[0].find(f"{{{ALG}}}SigningMethod").attrib.clear()
    assert metadata_schema_errors(etree.tostring(root)) != []


@pytest.mark.parametrize("allow", [False, True], ids=["without-sha1", "with-sha1"])
def test_python3_saml_and_pysaml2_read_the_metadata_with_its_algorithms(
    apps, client, org: Org, certificate_base64, allow
):
    created, xml = sha1_app_metadata(apps, client, org, allow=allow)

    parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
    assert parsed["idp"]["entityId"] == created["issuer"]
    assert parsed["idp"]["x509cert"] == certificate_base64
    read = pysaml2_reads_algorithms(xml, created["issuer"])
    assert read >= {*STRONG_DIGESTS, *STRONG_SIGNING_METHODS}
    assert (RSA_SHA1 in read, SHA1_DIGEST in read) == (allow, allow)
