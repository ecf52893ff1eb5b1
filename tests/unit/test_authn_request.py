"""Reading AuthnRequests: the HTTP-Redirect and HTTP-POST bindings and the request's contents, on
requests made by python3-saml and pysaml2, on malformed and hostile input, and the two kinds of
signature check."""

from __future__ import annotations

import base64
import copy
import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import lxml.html
import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp.errors import SamlRequestRefused, ValidationError
from idp.keyring import make_signing_pair
from idp.saml import algorithms, authn_request, bindings
from tests.e2e.sp_helpers import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    DS,
    NAMEID_PERSISTENT,
    RSA_SHA256,
    SAML,
    SAMLP,
    authn_request_xml,
    deflate_base64,
    pysaml2_client,
    query_of,
    redirect_query,
    replace_param,
)

SP_ENTITY_ID = "https://sp.example.com/metadata"
ACS_URL = "https://sp.example.com/acs"
IDP_ENTITY_ID = "https://idp.example.com/metadata"
IDP_SSO_URL = "https://idp.example.com/saml/sso"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
REFUSED = (SamlRequestRefused, ValidationError)
STRONG = algorithms.accepted(allow_sha1=False)  # what an app accepts unless it allows SHA-1


def der_base64(cert_pem: bytes) -> str:
    """A certificate as apps hold it: base64 DER."""
    certificate = x509.load_pem_x509_certificate(cert_pem)
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


@pytest.fixture(scope="module")
def sp_keys() -> tuple[bytes, bytes]:
    return make_signing_pair(2048, "sp")


@pytest.fixture(scope="module")
def other_keys() -> tuple[bytes, bytes]:
    return make_signing_pair(2048, "someone else")


@pytest.fixture(scope="module")
def sp_certs(sp_keys) -> list[str]:
    return [der_base64(sp_keys[1])]


# ---------------------------------------------------------------------------------------------
# Requests made by python3-saml and pysaml2
# ---------------------------------------------------------------------------------------------


def onelogin_settings(keys: tuple[bytes, bytes], *, sign: bool) -> OneLogin_Saml2_Settings:
    key, cert = (part.decode() for part in keys)
    return OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": SP_ENTITY_ID,
                "assertionConsumerService": {"url": ACS_URL, "binding": BINDING_HTTP_POST},
                "NameIDFormat": NAMEID_PERSISTENT,
                "x509cert": cert,
                "privateKey": key,
            },
            "idp": {
                "entityId": IDP_ENTITY_ID,
                "singleSignOnService": {"url": IDP_SSO_URL, "binding": BINDING_HTTP_REDIRECT},
                "x509cert": cert,
            },
            "security": {"authnRequestsSigned": sign, "signatureAlgorithm": RSA_SHA256, "digestAlgorithm": SHA256},
        }
    )


def python3_saml_login_query(keys: tuple[bytes, bytes], *, sign: bool = True, **login) -> str:
    """The query of the redirect python3-saml's Auth.login() answers with (signed when `sign`)."""
    request_data = {"https": "on", "http_host": "sp.example.com", "script_name": "/login", "get_data": {}}
    auth = OneLogin_Saml2_Auth(request_data, onelogin_settings(keys, sign=sign))
    url = auth.login(return_to="https://sp.example.com/after login?x=1", **login)
    assert url.startswith(IDP_SSO_URL + "?")
    return urlsplit(url).query


def idp_metadata_xml() -> bytes:
    return f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY_ID}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="{IDP_SSO_URL}"/>
    <md:SingleSignOnService Binding="{BINDING_HTTP_POST}" Location="{IDP_SSO_URL}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>""".encode()


@pytest.fixture
def pysaml2(tmp_path: Path, sp_keys):
    key, cert = sp_keys
    return pysaml2_client(
        tmp_path, entity_id=SP_ENTITY_ID, acs_url=ACS_URL, idp_metadata=idp_metadata_xml(), key_pem=key, cert_pem=cert
    )


def pysaml2_redirect_query(client, *, sign: bool) -> str:
    from saml2 import BINDING_HTTP_REDIRECT as REDIRECT
    from saml2.xmldsig import SIG_RSA_SHA256

    _, info = client.prepare_for_authenticate(
        entityid=IDP_ENTITY_ID, relay_state="/after", binding=REDIRECT, sign=sign, sigalg=SIG_RSA_SHA256
    )
    return urlsplit(dict(info["headers"])["Location"]).query


def pysaml2_post_fields(client, *, sign: bool) -> dict[str, str]:
    from saml2 import BINDING_HTTP_POST as POST
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

    _, info = client.prepare_for_authenticate(
        entityid=IDP_ENTITY_ID,
        relay_state="/after",
        binding=POST,
        sign=sign,
        sigalg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    return dict(lxml.html.fromstring(info["data"]).forms[0].fields)


def test_a_python3_saml_authn_request_is_read_from_the_redirect_binding(sp_keys):
    made = OneLogin_Saml2_Authn_Request(onelogin_settings(sp_keys, sign=False), force_authn=True, is_passive=True)
    query = f"SAMLRequest={quote(made.get_request(), safe='')}&RelayState={quote('https://sp.example.com/a b')}"

    message = bindings.from_redirect(query)
    request = authn_request.parse(message)

    assert message.xml.decode() == made.get_xml()
    assert message.relay_state == "https://sp.example.com/a b"
    assert message.signature is None and message.signed_octets is None
    assert request.id == made.get_id()
    assert request.issuer == SP_ENTITY_ID
    assert request.destination == IDP_SSO_URL
    assert request.acs_url == ACS_URL
    assert request.protocol_binding == BINDING_HTTP_POST
    assert request.force_authn is True and request.is_passive is True
    assert request.name_id_format == NAMEID_PERSISTENT
    assert abs((datetime.datetime.now(datetime.UTC) - request.issue_instant).total_seconds()) < 60


def test_a_python3_saml_authn_request_is_read_from_the_post_binding(sp_keys):
    made = OneLogin_Saml2_Authn_Request(onelogin_settings(sp_keys, sign=False))

    message = bindings.from_post({"SAMLRequest": made.get_request(deflate=False), "RelayState": "state"})
    request = authn_request.parse(message)

    assert message.binding == "post" and message.relay_state == "state"
    assert request.id == made.get_id() and request.issuer == SP_ENTITY_ID
    assert request.force_authn is False and request.is_passive is False


def test_a_pysaml2_authn_request_is_read_from_the_redirect_binding(pysaml2):
    message = bindings.from_redirect(pysaml2_redirect_query(pysaml2, sign=False))
    request = authn_request.parse(message)

    assert request.issuer == SP_ENTITY_ID
    assert request.acs_url == ACS_URL
    assert request.destination == IDP_SSO_URL
    assert message.relay_state == "/after"


def test_a_pysaml2_authn_request_is_read_from_the_post_binding(pysaml2):
    fields = pysaml2_post_fields(pysaml2, sign=False)

    request = authn_request.parse(bindings.from_post(fields))

    assert request.issuer == SP_ENTITY_ID
    assert request.id == etree.fromstring(base64.b64decode(fields["SAMLRequest"])).get("ID")


# ---------------------------------------------------------------------------------------------
# Malformed and hostile input
# ---------------------------------------------------------------------------------------------


def redirect_of(xml: bytes) -> str:
    return "SAMLRequest=" + quote(deflate_base64(xml), safe="")


GOOD = authn_request_xml(issuer=SP_ENTITY_ID)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("RelayState=x", id="no-SAMLRequest"),
        pytest.param("SAMLRequest=", id="empty"),
        pytest.param("SAMLRequest=abc", id="not-base64"),
        pytest.param("SAMLRequest=" + quote(base64.b64encode(GOOD).decode(), safe=""), id="not-deflated"),
        pytest.param(redirect_of(GOOD)[:-5], id="truncated-base64"),
        pytest.param(
            "SAMLRequest=" + quote(base64.b64encode(base64.b64decode(deflate_base64(GOOD))[:40]).decode(), safe=""),
            id="truncated-deflate",
        ),
    ],
)
def test_a_malformed_redirect_message_is_refused(query):
    with pytest.raises(REFUSED):
        authn_request.parse(bindings.from_redirect(query))


def test_a_deflate_bomb_is_refused_before_it_is_inflated_whole():
    bomb = redirect_of(b"<a>" + b" " * (64 * 1024 * 1024) + b"</a>")
    assert len(bomb) < 200 * 1024

    with pytest.raises(SamlRequestRefused, match="too large"):
        bindings.from_redirect(bomb)


def test_base64_without_a_single_base64_character_is_refused():
    with pytest.raises(REFUSED):
        authn_request.parse(bindings.from_redirect("SAMLRequest=%21%21%21%21"))
    with pytest.raises(REFUSED):
        authn_request.parse(bindings.from_post({"SAMLRequest": "!!!!"}))


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({}, id="no-SAMLRequest"),
        pytest.param({"SAMLRequest": ""}, id="empty"),
        pytest.param({"SAMLRequest": "abc"}, id="not-base64"),
    ],
)
def test_a_malformed_post_message_is_refused(form):
    with pytest.raises(SamlRequestRefused):
        bindings.from_post(form)


def without(xml: bytes, attribute: str) -> bytes:
    root = etree.fromstring(xml)
    del root.attrib[attribute]
    return etree.tostring(root)


def with_attribute(xml: bytes, attribute: str, value: str) -> bytes:
    root = etree.fromstring(xml)
    root.set(attribute, value)
    return etree.tostring(root)


def with_issuer(xml: bytes, issuer: str | None) -> bytes:
    root = etree.fromstring(xml)
    element = root.find(f"{{{SAML}}}Issuer")
    if issuer is None:
        root.remove(element)
    else:
        element.text = issuer
    return etree.tostring(root)


LOGOUT_REQUEST = (
    f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_l" Version="2.0" '
    f'IssueInstant="2030-01-01T00:00:00Z"><saml:Issuer>{SP_ENTITY_ID}</saml:Issuer></samlp:LogoutRequest>'
).encode()


@pytest.mark.parametrize(
    "xml",
    [
        pytest.param(LOGOUT_REQUEST, id="wrong-root"),
        pytest.param(GOOD.replace(SAMLP.encode(), b"urn:example:not-saml"), id="wrong-namespace"),
        pytest.param(without(GOOD, "ID"), id="no-ID"),
        pytest.param(with_attribute(GOOD, "ID", ""), id="empty-ID"),
        pytest.param(with_issuer(GOOD, None), id="no-Issuer"),
        pytest.param(with_issuer(GOOD, "   "), id="blank-Issuer"),
        pytest.param(with_attribute(GOOD, "Version", "two"), id="version-not-a-number"),
        pytest.param(without(GOOD, "IssueInstant"), id="no-IssueInstant"),
        pytest.param(with_attribute(GOOD, "IssueInstant", "yesterday"), id="bad-IssueInstant"),
        pytest.param(with_attribute(GOOD, "AssertionConsumerServiceIndex", "one"), id="bad-ACS-index"),
        pytest.param(b"not xml at all", id="not-xml"),
        pytest.param(GOOD[:-20], id="truncated-xml"),
        pytest.param(b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + GOOD, id="doctype-xxe"),
        pytest.param(GOOD.replace(b">", b">" + b" " * (300 * 1024), 1), id="too-large"),
    ],
)
@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_a_malformed_authn_request_is_refused(xml, binding):
    with pytest.raises(REFUSED):
        if binding == "redirect":
            message = bindings.from_redirect(redirect_of(xml))
        else:
            message = bindings.from_post({"SAMLRequest": base64.b64encode(xml).decode()})
        authn_request.parse(message)


def test_the_good_request_used_above_is_accepted():
    assert authn_request.parse(bindings.from_redirect(redirect_of(GOOD))).issuer == SP_ENTITY_ID


def test_an_external_entity_is_never_read(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xml = (
        f'<!DOCTYPE samlp:AuthnRequest [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        + GOOD.decode().replace(SP_ENTITY_ID, "&xxe;")
    ).encode()

    with pytest.raises(REFUSED) as refused:
        authn_request.parse(bindings.from_post({"SAMLRequest": base64.b64encode(xml).decode()}))
    assert "TOP-SECRET" not in str(refused.value)


# ---------------------------------------------------------------------------------------------
# HTTP-Redirect signatures
# ---------------------------------------------------------------------------------------------


def test_a_python3_saml_signed_redirect_verifies(sp_keys, sp_certs):
    query = python3_saml_login_query(sp_keys)
    assert query_of(f"?{query}")["SigAlg"] == RSA_SHA256

    assert bindings.redirect_signature_valid(bindings.from_redirect(query), sp_certs, STRONG) is True


def test_a_pysaml2_signed_redirect_verifies(pysaml2, sp_certs):
    query = pysaml2_redirect_query(pysaml2, sign=True)

    assert bindings.redirect_signature_valid(bindings.from_redirect(query), sp_certs, STRONG) is True


@pytest.mark.parametrize("changed", ["SAMLRequest", "RelayState", "SigAlg", "Signature"])
def test_a_redirect_signature_fails_when_a_signed_parameter_changes(sp_keys, sp_certs, changed):
    query = python3_saml_login_query(sp_keys)
    other = query_of("?" + python3_saml_login_query(sp_keys, force_authn=True))
    replacement = {
        "SAMLRequest": quote(other["SAMLRequest"], safe=""),
        "RelayState": quote("https://evil.example/", safe=""),
        "SigAlg": quote(RSA_SHA512, safe=""),
        "Signature": quote(other["Signature"], safe=""),
    }[changed]
    tampered = replace_param(query, changed, replacement)
    assert tampered != query

    assert bindings.redirect_signature_valid(bindings.from_redirect(tampered), sp_certs, STRONG) is False


def test_a_redirect_signature_fails_when_relay_state_is_added(sp_keys, sp_certs):
    made = OneLogin_Saml2_Authn_Request(onelogin_settings(sp_keys, sign=True))
    query = redirect_query(made.get_xml().encode(), key_pem=sp_keys[0])
    assert bindings.redirect_signature_valid(bindings.from_redirect(query), sp_certs, STRONG) is True
    added = query.replace("&SigAlg=", "&RelayState=%2Fsneaked-in&SigAlg=")

    assert bindings.redirect_signature_valid(bindings.from_redirect(added), sp_certs, STRONG) is False


def test_a_redirect_signature_by_another_key_fails(sp_keys, other_keys):
    query = python3_saml_login_query(sp_keys)
    stranger = [der_base64(other_keys[1])]

    assert bindings.redirect_signature_valid(bindings.from_redirect(query), stranger, STRONG) is False


def test_an_unsigned_redirect_does_not_verify(sp_keys, sp_certs):
    query = python3_saml_login_query(sp_keys, sign=False)

    assert bindings.redirect_signature_valid(bindings.from_redirect(query), sp_certs, STRONG) is False


# ---------------------------------------------------------------------------------------------
# HTTP-POST (enveloped) signatures
# ---------------------------------------------------------------------------------------------


def python3_saml_signed(xml: bytes, keys: tuple[bytes, bytes], digest: str = SHA256) -> etree._Element:
    key, cert = (part.decode() for part in keys)
    signed = OneLogin_Saml2_Utils.add_sign(xml, key, cert, sign_algorithm=RSA_SHA256, digest_algorithm=digest)
    return etree.fromstring(signed)


def received_root(root: etree._Element) -> etree._Element:
    """The root element as the IdP reads a posted message: serialized, sent, parsed again."""
    message = bindings.from_post({"SAMLRequest": base64.b64encode(etree.tostring(root)).decode()})
    return authn_request.parse(message).root


def test_a_python3_saml_enveloped_signature_verifies(sp_keys, sp_certs):
    root = received_root(python3_saml_signed(GOOD, sp_keys))
    assert root.find(f"{{{DS}}}Signature") is not None

    assert bindings.post_signature_valid(root, sp_certs, STRONG) is True


def test_a_pysaml2_enveloped_signature_verifies(pysaml2, sp_certs):
    fields = pysaml2_post_fields(pysaml2, sign=True)

    assert bindings.post_signature_valid(authn_request.parse(bindings.from_post(fields)).root, sp_certs, STRONG) is True


def test_an_enveloped_signature_by_another_key_fails(sp_keys, other_keys):
    root = received_root(python3_saml_signed(GOOD, sp_keys))

    assert bindings.post_signature_valid(root, [der_base64(other_keys[1])], STRONG) is False


def test_an_enveloped_signature_fails_when_the_request_changes(sp_keys, sp_certs):
    root = python3_saml_signed(GOOD, sp_keys)
    root.set("AssertionConsumerServiceURL", "https://evil.example/acs")

    assert bindings.post_signature_valid(received_root(root), sp_certs, STRONG) is False


def wrapped(genuine_signed: etree._Element, *, outer_id: str) -> etree._Element:
    """Signature wrapping: an attacker's request carrying the genuine signature as its own, with the
    genuine (signed) request tucked away inside its Extensions."""
    evil = etree.fromstring(authn_request_xml(issuer=SP_ENTITY_ID, acs_url="https://evil.example/acs"))
    evil.set("ID", outer_id)
    signature = genuine_signed.find(f"{{{DS}}}Signature")
    genuine = copy.deepcopy(genuine_signed)
    genuine.remove(genuine.find(f"{{{DS}}}Signature"))
    evil.find(f"{{{SAML}}}Issuer").addnext(copy.deepcopy(signature))
    extensions = etree.SubElement(evil, f"{{{SAMLP}}}Extensions")
    extensions.append(genuine)
    return received_root(evil)


def xmlsec_alone_accepts(root: etree._Element, cert_pem: bytes) -> bool:
    """What a naive verifier says: the root's Signature checks out against whatever it references."""
    root = copy.deepcopy(root)
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    try:
        context.verify(root.find(f"{{{DS}}}Signature"))
    except xmlsec.Error:
        return False
    return True


def test_a_signature_that_references_another_element_fails(sp_keys, sp_certs):
    genuine = python3_saml_signed(authn_request_xml(issuer=SP_ENTITY_ID, request_id="_genuine"), sp_keys)
    evil = wrapped(genuine, outer_id="_evil")
    (reference,) = evil.findall(f"{{{DS}}}Signature/{{{DS}}}SignedInfo/{{{DS}}}Reference")
    assert reference.get("URI") == "#_genuine"
    assert xmlsec_alone_accepts(evil, sp_keys[1]), "the wrapped signature is genuine: only its placement is wrong"

    assert bindings.post_signature_valid(evil, sp_certs, STRONG) is False


def test_a_wrapped_request_reusing_the_signed_id_fails(sp_keys, sp_certs):
    genuine = python3_saml_signed(authn_request_xml(issuer=SP_ENTITY_ID, request_id="_genuine"), sp_keys)
    evil = wrapped(genuine, outer_id="_genuine")
    assert len(evil.xpath("//*[@ID='_genuine']")) == 2

    assert bindings.post_signature_valid(evil, sp_certs, STRONG) is False


def test_a_signature_that_is_not_a_child_of_the_root_fails(sp_keys, sp_certs):
    root = python3_saml_signed(GOOD, sp_keys)
    signature = root.find(f"{{{DS}}}Signature")
    root.remove(signature)
    etree.SubElement(root, f"{{{SAMLP}}}Extensions").append(signature)

    assert bindings.post_signature_valid(received_root(root), sp_certs, STRONG) is False
