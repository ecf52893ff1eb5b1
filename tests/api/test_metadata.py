"""GET /metadata and GET /sso_applications/<id>/metadata: the IdP as service providers import it."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp import keyring as keys
from idp.config import Settings
from idp.errors import ConfigurationError
from idp.web import create_app
from tests.api.helpers import NS, Org, link_app, saml_app
from tests.conftest import BASE_URL
from tests.independent import metadata_schema_errors, xmlsec1_verifies
from tests.support import wait_until

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
    return {element["algorithm"] for element in role["extensions"]["extension_elements"] if "algorithm" in element}


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


# Who runs the IdP, how long the document holds, and its signature

MDUI = "urn:oasis:names:tc:SAML:metadata:ui"
SHIBMD = "urn:mace:shibboleth:metadata:1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DESCRIBED = {
    "IDP_METADATA_VALID_FOR": "86400",
    "IDP_METADATA_CACHE_DURATION": "3600",
    "IDP_ORGANIZATION_NAME": "Acme Realty Group",
    "IDP_ORGANIZATION_DISPLAY_NAME": "Acme Realty",
    "IDP_ORGANIZATION_URL": "https://acme.example/",
    "IDP_CONTACT_EMAIL": "idp-admins@acme.example",
    "IDP_CONTACT_NAME": "Identity team",
    "IDP_DISPLAY_NAME": "Acme sign-in",
    "IDP_LOGO_URL": "https://acme.example/logo.png",
    "IDP_LOGO_WIDTH": "120",
    "IDP_LOGO_HEIGHT": "40",
    "IDP_SCOPES": "acme.example, agents.acme.example",
}


def client_with(env: dict[str, str], store, **extra: str):
    """A test client of a service whose settings add `extra` to the test environment."""
    return create_app(Settings.from_env({**env, **extra}), store=store).test_client()


def both_documents(client, apps, org: Org) -> list[bytes]:
    created = apps.created(org.admin, org.brand, saml_app())
    return [client.get("/metadata").data, client.get(f"/sso_applications/{created['id']}/metadata").data]


def pysaml2_entity(xml: bytes) -> dict:
    """The entity as pysaml2's metadata store reads it (the document's only one)."""
    from saml2.attribute_converter import ac_factory
    from saml2.mdstore import InMemoryMetaData

    store = InMemoryMetaData(ac_factory(), None)
    store.parse(xml.decode())
    (entity,) = store.entity.values()
    return entity


def signing_certificate_pem(keys_dir) -> bytes:
    return (keys_dir / "signing.crt").read_bytes()


def test_every_document_says_how_long_it_holds(env, store, apps, org: Org):
    client = client_with(env, store, IDP_METADATA_VALID_FOR="86400", IDP_METADATA_CACHE_DURATION="3600")
    for xml in both_documents(client, apps, org):
        root = parse(xml)
        valid_until = datetime.datetime.fromisoformat(root.get("validUntil"))
        expected = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        assert abs((valid_until - expected).total_seconds()) < 60
        assert root.get("cacheDuration") == "PT3600S"
        assert pysaml2_entity(xml)["valid_until"] == root.get("validUntil")


def test_every_document_names_the_organization_and_a_technical_contact(env, store, apps, org: Org):
    client = client_with(env, store, **DESCRIBED)
    for xml in both_documents(client, apps, org):
        entity = pysaml2_entity(xml)
        organization = entity["organization"]
        assert [name["text"] for name in organization["organization_name"]] == ["Acme Realty Group"]
        assert [name["text"] for name in organization["organization_display_name"]] == ["Acme Realty"]
        assert [url["text"] for url in organization["organization_url"]] == ["https://acme.example/"]
        (contact,) = entity["contact_person"]
        assert contact["contact_type"] == "technical"
        assert [email["text"] for email in contact["email_address"]] == ["mailto:idp-admins@acme.example"]
        assert contact["given_name"]["text"] == "Identity team"


def test_the_technical_contact_defaults_to_the_mail_sender(client):
    (contact,) = pysaml2_entity(client.get("/metadata").data)["contact_person"]
    assert [email["text"] for email in contact["email_address"]] == ["mailto:no-reply@127.0.0.1"]


def test_every_document_carries_ui_info_scopes_and_an_error_page(env, store, apps, org: Org):
    client = client_with(env, store, **DESCRIBED)
    for xml in both_documents(client, apps, org):
        descriptor = idp_descriptor(parse(xml))
        extensions = descriptor.find("md:Extensions", NS)
        (name,) = extensions.findall(f"{{{MDUI}}}UIInfo/{{{MDUI}}}DisplayName")
        assert (name.text, name.get(XML_LANG)) == ("Acme sign-in", "en")
        (logo,) = extensions.findall(f"{{{MDUI}}}UIInfo/{{{MDUI}}}Logo")
        assert (logo.text, logo.get("width"), logo.get("height")) == ("https://acme.example/logo.png", "120", "40")
        scopes = extensions.findall(f"{{{SHIBMD}}}Scope")
        assert [(scope.text, scope.get("regexp")) for scope in scopes] == [
            ("acme.example", "false"),
            ("agents.acme.example", "false"),
        ]
        error_url = descriptor.get("errorURL")
        assert error_url == f"{BASE_URL}/sign-in-problem"
        page = client.get(error_url.removeprefix(BASE_URL))
        assert page.status_code == 200
        assert "idp-admins@acme.example" in page.text
        assert metadata_schema_errors(xml) == []


def test_without_a_logo_setting_there_is_no_logo_and_the_scope_is_the_host(client):
    extensions = idp_descriptor(parse(client.get("/metadata").data)).find("md:Extensions", NS)
    assert extensions.findall(f"{{{MDUI}}}UIInfo/{{{MDUI}}}Logo") == []
    assert [scope.text for scope in extensions.findall(f"{{{SHIBMD}}}Scope")] == ["127.0.0.1"]


def test_the_schema_check_reads_ui_info_strictly(client):
    """A DisplayName without its xml:lang is invalid for the UI Info schema: the check is not lax."""
    root = parse(client.get("/metadata").data)
    (name,) = root.iter(f"{{{MDUI}}}DisplayName")
    del name.attrib[XML_LANG]
    assert metadata_schema_errors(etree.tostring(root)) != []


def test_every_document_is_signed_with_the_signing_key(client, apps, org: Org, keys_dir):
    certificate = signing_certificate_pem(keys_dir)
    for xml in both_documents(client, apps, org):
        root = parse(xml)
        assert root[0].tag == f"{{{NS['ds']}}}Signature"
        assert xmlsec1_verifies(xml, certificate, "EntityDescriptor")
        assert OneLogin_Saml2_Utils.validate_metadata_sign(xml.decode(), certificate.decode(), raise_exceptions=True)
        assert metadata_schema_errors(xml) == []


def test_a_changed_document_no_longer_verifies(client, keys_dir):
    root = parse(client.get("/metadata").data)
    (location,) = root.xpath("//md:SingleSignOnService[1]", namespaces=NS)
    location.set("Location", "https://evil.example/sso")
    tampered = etree.tostring(root)
    certificate = signing_certificate_pem(keys_dir)
    assert not xmlsec1_verifies(tampered, certificate, "EntityDescriptor")
    assert not OneLogin_Saml2_Utils.validate_metadata_sign(tampered.decode(), certificate.decode())


def test_a_setting_turns_the_signature_off(env, store):
    root = parse(client_with(env, store, IDP_METADATA_SIGNED="false").get("/metadata").data)
    assert root.find(f"{{{NS['ds']}}}Signature") is None
    assert metadata_schema_errors(etree.tostring(root)) == []


def test_a_cache_duration_longer_than_the_validity_is_refused(env):
    with pytest.raises(ConfigurationError, match="IDP_METADATA_CACHE_DURATION"):
        Settings.from_env({**env, "IDP_METADATA_VALID_FOR": "600", "IDP_METADATA_CACHE_DURATION": "3600"})


# During a signing-key rollover


@pytest.fixture
def rolling(env, tmp_path, store):
    """A service on keys of its own (they change), looking at the folder on every request."""
    folder = tmp_path / "rolling-keys"
    keys.generate(folder)
    client = client_with(env, store, IDP_KEYS_DIR=str(folder), IDP_KEYS_CHECK_INTERVAL="0.001")
    return folder, client


def published_certificates(xml: bytes) -> list[str]:
    descriptor = idp_descriptor(parse(xml))
    path = "md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()"
    return [text.strip() for text in descriptor.xpath(path, namespaces=NS)]


def pem_of(folder, name: str) -> bytes:
    return (folder / f"{name}.crt").read_bytes()


def der_base64(certificate_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(certificate_pem)
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def test_a_staged_certificate_is_published_beside_the_one_that_signs(rolling, apps, org: Org):
    folder, client = rolling
    keys.stage(folder, keys.SIGNING)
    staged = keys.read_signing_roles(folder)["staged"]
    wait_until(lambda: len(published_certificates(client.get("/metadata").data)) == 2, timeout=5, what="reload")

    for xml in both_documents(client, apps, org):
        assert published_certificates(xml) == [
            der_base64(pem_of(folder, "signing")),
            der_base64(pem_of(folder, staged)),
        ]
        assert metadata_schema_errors(xml) == []
        assert xmlsec1_verifies(xml, pem_of(folder, "signing"), "EntityDescriptor")
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
        assert parsed["idp"]["x509certMulti"]["signing"] == published_certificates(xml)
        (role,) = pysaml2_entity(xml)["idpsso_descriptor"]
        assert len([key for key in role["key_descriptor"] if key["use"] == "signing"]) == 2


def test_after_promote_the_new_key_signs_the_metadata_and_the_old_certificate_stays(rolling):
    folder, client = rolling
    keys.stage(folder, keys.SIGNING)
    new = keys.read_signing_roles(folder)["staged"]
    keys.promote(folder, keys.SIGNING)
    wait_until(
        lambda: xmlsec1_verifies(client.get("/metadata").data, pem_of(folder, new), "EntityDescriptor"),
        timeout=5,
        what="the new key signing",
    )
    xml = client.get("/metadata").data
    assert published_certificates(xml) == [der_base64(pem_of(folder, new)), der_base64(pem_of(folder, "signing"))]
    assert not xmlsec1_verifies(xml, pem_of(folder, "signing"), "EntityDescriptor")

    keys.retire(folder, keys.SIGNING)
    wait_until(lambda: len(published_certificates(client.get("/metadata").data)) == 1, timeout=5, what="retire")
    assert published_certificates(client.get("/metadata").data) == [der_base64(pem_of(folder, new))]


def test_generate_with_force_starts_over_with_one_pair(tmp_path):
    folder = tmp_path / "keys"
    keys.generate(folder)
    keys.stage(folder, keys.SIGNING)
    staged = keys.read_signing_roles(folder)["staged"]
    keys.generate(folder, force=True)
    assert keys.read_signing_roles(folder) == {"active": "signing"}
    assert not (folder / f"{staged}.key").exists()
    assert [pair.name for pair in keys.read_key_set(folder).published] == ["signing"]


def pysaml2_loads_signed(xml: bytes, certificate_pem: bytes, folder) -> list[str]:
    """The entities pysaml2's metadata store loads from `xml` when it must be signed by `certificate_pem`
    and still valid (its MetaDataFile with `cert` and `check_validity`); raises SignatureError otherwise."""
    from saml2.attribute_converter import ac_factory
    from saml2.config import Config
    from saml2.mdstore import MetaDataFile
    from saml2.sigver import security_context

    (folder / "metadata.xml").write_bytes(xml)
    (folder / "signer.crt").write_bytes(certificate_pem)
    config = Config()
    config.load({"entityid": "urn:example:sp"})
    metadata = MetaDataFile(
        ac_factory(),
        str(folder / "metadata.xml"),
        cert=str(folder / "signer.crt"),
        security=security_context(config),
        node_name=f"{NS['md']}:EntityDescriptor",
        check_validity=True,
    )
    metadata.load()
    return list(metadata.keys())


def test_pysaml2_loads_the_metadata_only_with_the_idps_certificate(client, settings, keys_dir, tmp_path):
    from saml2.sigver import SignatureError

    xml = client.get("/metadata").data
    assert pysaml2_loads_signed(xml, signing_certificate_pem(keys_dir), tmp_path) == [settings.entity_id]
    _, other = keys.make_signing_pair(2048, "someone else")
    with pytest.raises(SignatureError):
        pysaml2_loads_signed(xml, other, tmp_path)
