"""SHA-1 on incoming signatures: refused unless the app allows it, over both bindings, for
AuthnRequests and logout messages, judged on messages python3-saml and pysaml2 sign.

Two layers answer: the signature checks of bindings.py refuse what the accepted algorithms leave
out (xmlsec itself, for HTTP-POST), and inbound.verify refuses SHA-1 first with a message saying
how to allow it.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from saml2 import BINDING_HTTP_POST as PYSAML2_POST
from saml2 import BINDING_HTTP_REDIRECT as PYSAML2_REDIRECT
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from idp.errors import SamlRequestRefused
from idp.keyring import make_signing_pair
from idp.models import SsoApplication
from idp.saml import algorithms, bindings, inbound
from idp.saml.bindings import ReceivedMessage
from tests.e2e.sp_helpers import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    NAMEID_EMAIL,
    authn_request_xml,
    logout_request_xml,
    pysaml2_client,
)
from tests.unit.test_authn_request import (
    ACS_URL,
    IDP_ENTITY_ID,
    IDP_SSO_URL,
    SP_ENTITY_ID,
    der_base64,
    idp_metadata_xml,
)

IDP_SLO_URL = "https://idp.example.com/saml/slo"

RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

STRONG = algorithms.accepted(allow_sha1=False)
WITH_SHA1 = algorithms.accepted(allow_sha1=True)
SHA1_REFUSED = "signed with SHA-1, which is refused"


@pytest.fixture(scope="module")
def sp_keys() -> tuple[bytes, bytes]:
    return make_signing_pair(2048, "sp")


@pytest.fixture(scope="module")
def sp_certs(sp_keys) -> list[str]:
    return [der_base64(sp_keys[1])]


# ---------------------------------------------------------------------------------------------
# Messages signed by python3-saml and pysaml2, with the algorithms asked for
# ---------------------------------------------------------------------------------------------


def onelogin_settings(keys: tuple[bytes, bytes], signature: str, digest: str) -> OneLogin_Saml2_Settings:
    key, cert = (part.decode() for part in keys)
    return OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": SP_ENTITY_ID,
                "assertionConsumerService": {"url": ACS_URL, "binding": BINDING_HTTP_POST},
                "singleLogoutService": {"url": "https://sp.example.com/sls", "binding": BINDING_HTTP_REDIRECT},
                "NameIDFormat": NAMEID_EMAIL,
                "x509cert": cert,
                "privateKey": key,
            },
            "idp": {
                "entityId": IDP_ENTITY_ID,
                "singleSignOnService": {"url": IDP_SSO_URL, "binding": BINDING_HTTP_REDIRECT},
                "singleLogoutService": {"url": IDP_SLO_URL, "binding": BINDING_HTTP_REDIRECT},
                "x509cert": cert,
            },
            "security": {
                "authnRequestsSigned": True,
                "logoutRequestSigned": True,
                "signatureAlgorithm": signature,
                "digestAlgorithm": digest,
            },
        }
    )


def python3_saml_auth(keys: tuple[bytes, bytes], signature: str) -> OneLogin_Saml2_Auth:
    request_data = {"https": "on", "http_host": "sp.example.com", "script_name": "/login", "get_data": {}}
    return OneLogin_Saml2_Auth(request_data, onelogin_settings(keys, signature, SHA256))


def python3_saml_redirect_login(keys: tuple[bytes, bytes], signature: str) -> ReceivedMessage:
    """The AuthnRequest of python3-saml's Auth.login(), signed over the query with `signature`."""
    url = python3_saml_auth(keys, signature).login(return_to="https://sp.example.com/")
    message = bindings.from_redirect(urlsplit(url).query)
    assert message.sig_alg == signature
    return message


def python3_saml_redirect_logout(keys: tuple[bytes, bytes], signature: str) -> ReceivedMessage:
    url = python3_saml_auth(keys, signature).logout(name_id="agent@acme.example", name_id_format=NAMEID_EMAIL)
    message = bindings.from_redirect(urlsplit(url).query)
    assert message.sig_alg == signature
    return message


def python3_saml_posted(xml: bytes, keys: tuple[bytes, bytes], signature: str, digest: str) -> ReceivedMessage:
    """`xml` with python3-saml's enveloped signature, as the IdP receives it over HTTP-POST."""
    key, cert = (part.decode() for part in keys)
    signed = OneLogin_Saml2_Utils.add_sign(xml, key, cert, sign_algorithm=signature, digest_algorithm=digest)
    return bindings.from_post({"SAMLRequest": base64.b64encode(signed).decode()})


@pytest.fixture
def pysaml2(tmp_path: Path, sp_keys):
    key, cert = sp_keys
    return pysaml2_client(
        tmp_path, entity_id=SP_ENTITY_ID, acs_url=ACS_URL, idp_metadata=idp_metadata_xml(), key_pem=key, cert_pem=cert
    )


def pysaml2_redirect(client, sigalg: str) -> ReceivedMessage:
    _, info = client.prepare_for_authenticate(
        entityid=IDP_ENTITY_ID, binding=PYSAML2_REDIRECT, sign=True, sigalg=sigalg
    )
    return bindings.from_redirect(urlsplit(dict(info["headers"])["Location"]).query)


def pysaml2_posted(client, sigalg: str, digest_alg: str) -> ReceivedMessage:
    _, info = client.prepare_for_authenticate(
        entityid=IDP_ENTITY_ID, binding=PYSAML2_POST, sign=True, sigalg=sigalg, digest_alg=digest_alg
    )
    return bindings.from_post(dict(lxml.html.fromstring(info["data"]).forms[0].fields))


def root_of(message: ReceivedMessage) -> etree._Element:
    return etree.fromstring(message.xml)


# ---------------------------------------------------------------------------------------------
# The signature checks of bindings.py
# ---------------------------------------------------------------------------------------------


def test_a_python3_saml_rsa_sha1_redirect_verifies_only_where_sha1_is_accepted(sp_keys, sp_certs):
    message = python3_saml_redirect_login(sp_keys, RSA_SHA1)

    assert bindings.uses_sha1(message, root_of(message))
    assert bindings.redirect_signature_valid(message, sp_certs, WITH_SHA1) is True
    assert bindings.redirect_signature_valid(message, sp_certs, STRONG) is False


def test_a_pysaml2_rsa_sha1_redirect_verifies_only_where_sha1_is_accepted(pysaml2, sp_certs):
    message = pysaml2_redirect(pysaml2, SIG_RSA_SHA1)
    assert message.sig_alg == RSA_SHA1

    assert bindings.uses_sha1(message, root_of(message))
    assert bindings.redirect_signature_valid(message, sp_certs, WITH_SHA1) is True
    assert bindings.redirect_signature_valid(message, sp_certs, STRONG) is False


@pytest.mark.parametrize(
    ("signature", "digest"),
    [(RSA_SHA1, SHA1), (RSA_SHA1, SHA256), (RSA_SHA256, SHA1)],
    ids=["rsa-sha1+sha1", "rsa-sha1+sha256", "rsa-sha256+sha1"],
)
def test_a_python3_saml_enveloped_signature_with_any_sha1_verifies_only_where_sha1_is_accepted(
    sp_keys, sp_certs, signature, digest
):
    message = python3_saml_posted(authn_request_xml(issuer=SP_ENTITY_ID), sp_keys, signature, digest)
    root = root_of(message)

    assert bindings.uses_sha1(message, root)
    assert bindings.post_signature_valid(root, sp_certs, WITH_SHA1) is True
    # xmlsec refuses it itself: the verdict does not rest on the algorithms being read beforehand.
    assert bindings.post_signature_valid(root_of(message), sp_certs, STRONG) is False


@pytest.mark.parametrize(
    ("sigalg", "digest_alg"),
    [(SIG_RSA_SHA1, DIGEST_SHA1), (SIG_RSA_SHA256, DIGEST_SHA1)],
    ids=["rsa-sha1+sha1", "rsa-sha256+sha1"],
)
def test_a_pysaml2_enveloped_signature_with_sha1_verifies_only_where_sha1_is_accepted(
    pysaml2, sp_certs, sigalg, digest_alg
):
    message = pysaml2_posted(pysaml2, sigalg, digest_alg)

    assert bindings.uses_sha1(message, root_of(message))
    assert bindings.post_signature_valid(root_of(message), sp_certs, WITH_SHA1) is True
    assert bindings.post_signature_valid(root_of(message), sp_certs, STRONG) is False


def test_sha256_signatures_are_not_sha1_and_verify_by_default(sp_keys, sp_certs, pysaml2):
    redirected = python3_saml_redirect_login(sp_keys, RSA_SHA256)
    posted = python3_saml_posted(authn_request_xml(issuer=SP_ENTITY_ID), sp_keys, RSA_SHA256, SHA256)
    pysaml2_posted_ = pysaml2_posted(pysaml2, SIG_RSA_SHA256, DIGEST_SHA256)

    for message in (redirected, posted, pysaml2_posted_):
        assert not bindings.uses_sha1(message, root_of(message))
        assert bindings.signature_valid(message, root_of(message), sp_certs, STRONG) is True


# ---------------------------------------------------------------------------------------------
# The signature policy of inbound.verify
# ---------------------------------------------------------------------------------------------


def sp_app(sp_certs: list[str], *, allow_sha1_signatures: bool) -> SsoApplication:
    return SsoApplication(
        id="app",
        owner_brand_id="brand",
        name="SP",
        authentication_type="SAML",
        created_at=0.0,
        updated_at=0.0,
        acs_url=ACS_URL,
        entity_id=SP_ENTITY_ID,
        sp_certificates=sp_certs,
        require_signed_requests=True,
        allow_sha1_signatures=allow_sha1_signatures,
    )


def verify(message: ReceivedMessage, kind: inbound.Kind, app: SsoApplication) -> inbound.Verified:
    claimed: set[str] = set()

    def claim_once(key: str, _ttl: float) -> bool:
        if key in claimed:
            return False
        claimed.add(key)
        return True

    destination = IDP_SSO_URL if kind is inbound.Kind.AUTHN_REQUEST else IDP_SLO_URL
    return inbound.verify(
        message,
        kind,
        find_senders=lambda issuer: [app] if issuer == app.entity_id else [],
        claim_once=claim_once,
        destination=destination,
        now=time.time(),
        skew=180,
    )


def sha1_messages(sp_keys) -> dict[str, tuple[inbound.Kind, ReceivedMessage]]:
    """One SHA-1-signed message of each kind and binding, made by python3-saml."""
    logout = logout_request_xml(issuer=SP_ENTITY_ID, destination=IDP_SLO_URL, name_id="agent@acme.example")
    authn = authn_request_xml(issuer=SP_ENTITY_ID, destination=IDP_SSO_URL)
    return {
        "authn-redirect": (inbound.Kind.AUTHN_REQUEST, python3_saml_redirect_login(sp_keys, RSA_SHA1)),
        "authn-post": (inbound.Kind.AUTHN_REQUEST, python3_saml_posted(authn, sp_keys, RSA_SHA1, SHA1)),
        "authn-post-sha1-digest": (inbound.Kind.AUTHN_REQUEST, python3_saml_posted(authn, sp_keys, RSA_SHA256, SHA1)),
        "logout-redirect": (inbound.Kind.LOGOUT_REQUEST, python3_saml_redirect_logout(sp_keys, RSA_SHA1)),
        "logout-post": (inbound.Kind.LOGOUT_REQUEST, python3_saml_posted(logout, sp_keys, RSA_SHA1, SHA1)),
    }


CASES = ["authn-redirect", "authn-post", "authn-post-sha1-digest", "logout-redirect", "logout-post"]


@pytest.mark.parametrize("case", CASES)
def test_a_sha1_signed_message_is_refused_for_an_app_that_does_not_allow_it(sp_keys, sp_certs, case):
    kind, message = sha1_messages(sp_keys)[case]

    with pytest.raises(SamlRequestRefused) as refused:
        verify(message, kind, sp_app(sp_certs, allow_sha1_signatures=False))

    assert SHA1_REFUSED in str(refused.value)
    assert "allow_sha1_signatures" in str(refused.value), "the refusal says how an admin allows it"


@pytest.mark.parametrize("case", CASES)
def test_a_sha1_signed_message_is_accepted_for_an_app_that_allows_it(sp_keys, sp_certs, case):
    kind, message = sha1_messages(sp_keys)[case]

    verified = verify(message, kind, sp_app(sp_certs, allow_sha1_signatures=True))

    assert [found.id for found in verified.apps] == ["app"] and verified.parsed.issuer == SP_ENTITY_ID


def test_a_sha1_message_signed_by_another_key_still_fails_for_an_app_that_allows_sha1(sp_keys):
    _, message = sha1_messages(sp_keys)["authn-redirect"]
    stranger = [der_base64(make_signing_pair(2048, "someone else")[1])]

    with pytest.raises(SamlRequestRefused, match="does not verify"):
        verify(message, inbound.Kind.AUTHN_REQUEST, sp_app(stranger, allow_sha1_signatures=True))


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_a_sha256_signed_request_is_accepted_without_the_opt_in(sp_keys, sp_certs, binding):
    if binding == "redirect":
        message = python3_saml_redirect_login(sp_keys, RSA_SHA256)
    else:
        authn = authn_request_xml(issuer=SP_ENTITY_ID, destination=IDP_SSO_URL)
        message = python3_saml_posted(authn, sp_keys, RSA_SHA256, SHA256)

    verify(message, inbound.Kind.AUTHN_REQUEST, sp_app(sp_certs, allow_sha1_signatures=False))


def test_the_policy_accepts_sha1_exactly_when_the_app_allows_it(sp_certs):
    for allowed in (False, True):
        policy = inbound.signature_policy(sp_app(sp_certs, allow_sha1_signatures=allowed), inbound.Kind.AUTHN_REQUEST)
        assert policy.accepted.includes_sha1 is allowed
