"""Single logout against the Procfile's gunicorn, with python3-saml (strict) as the SPs on loopback:
SP-initiated (propagated to the session's other SPs, PartialLogout when one cannot be signed out),
IdP-initiated from the launcher, and logout requests that are answered with a refusal or refused.
Every logout message the IdP sends is checked against the SAML protocol schema, and its signature by
python3-saml (HTTP-Redirect) or xmlsec1 (HTTP-POST)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lxml.html
import pytest
import requests
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp.keyring import make_signing_pair
from tests.deployment import Deployment
from tests.e2e.sp_helpers import (
    BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT,
    DS,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    RSA_SHA256,
    SAML,
    SAMLP,
    STATUS_PARTIAL_LOGOUT,
    STATUS_REQUEST_DENIED,
    STATUS_REQUESTER,
    STATUS_RESPONDER,
    STATUS_SUCCESS,
    STATUS_UNKNOWN_PRINCIPAL,
    TIMEOUT,
    ServiceProvider,
    app_metadata,
    authn_request_xml,
    decode_posted,
    decode_redirected,
    deployment_in,
    hops,
    idp_entity_id,
    is_login_page,
    logout_request_xml,
    logout_response_xml,
    new_browser,
    page_text,
    post_form,
    pysaml2_client,
    python3_saml_sp,
    query_of,
    redirect_query,
    replace_param,
    saml_post_form,
    sign_in,
    sign_in_at_idp,
    sign_out_in_launcher,
    sp_login,
    sp_state,
    status_codes,
)
from tests.independent import protocol_schema_errors, xmlsec1_verifies
from tests.python3_saml_sp import SpOptions

SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    with deployment_in(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def sp_keys() -> tuple[bytes, bytes]:
    return make_signing_pair(2048, "python3-saml sp")


@pytest.fixture
def sp(deployment) -> Iterator[ServiceProvider]:
    """An SP without a key: its logout messages are unsigned, and the app registers no certificate."""
    with python3_saml_sp(deployment) as running:
        yield running


@pytest.fixture
def signing_sp(deployment, sp_keys) -> Iterator[ServiceProvider]:
    """An SP that signs its logout messages; the app registers its certificate."""
    key, cert = sp_keys
    options = SpOptions(key_pem=key.decode(), cert_pem=cert.decode())
    with python3_saml_sp(deployment, options, sp_certificates=[cert.decode()]) as running:
        yield running


@pytest.fixture
def persistent_sp(deployment, sp_keys) -> Iterator[ServiceProvider]:
    """A second signing SP, given persistent NameIDs (which carry NameQualifier and SPNameQualifier)."""
    key, cert = sp_keys
    options = SpOptions(key_pem=key.decode(), cert_pem=cert.decode(), name_id_format=NAMEID_PERSISTENT)
    with python3_saml_sp(
        deployment, options, sp_certificates=[cert.decode()], name_id_format=NAMEID_PERSISTENT
    ) as running:
        yield running


def login_through_sp(browser: requests.Session, sp: ServiceProvider, deployment: Deployment) -> etree._Element:
    """SP-initiated login (with the password when the browser has no IdP session); returns the assertion."""
    page = sp_login(browser, sp)
    if is_login_page(page, deployment.base_url):
        page = sign_in(browser, page, deployment.agent_email)
    response = decode_posted(saml_post_form(page)[1]["SAMLResponse"])
    landed = post_form(browser, page)
    assert landed.json()["signed_in"] is True and landed.json()["errors"] == [], landed.text
    return response.find(f".//{{{SAML}}}Assertion")


def session_index_of(assertion: etree._Element) -> str:
    return assertion.find(f".//{{{SAML}}}AuthnStatement").get("SessionIndex")


def name_id_of(element: etree._Element) -> dict[str, str | None]:
    """A NameID as it reads: its value, Format and qualifiers."""
    name_id = element.find(f".//{{{SAML}}}NameID")
    return {
        "value": name_id.text,
        **{attribute: name_id.get(attribute) for attribute in ("Format", "NameQualifier", "SPNameQualifier")},
    }


def login_at_hand_played_sp(browser: requests.Session, deployment: Deployment, app: dict) -> etree._Element:
    """An AuthnRequest to the app's own SSO endpoint, as an SP played by hand; returns the assertion."""
    sso = f"{deployment.base_url}/sso_applications/{app['id']}/sso"
    login = browser.get(f"{sso}?{redirect_query(authn_request_xml(issuer=app['entity_id']))}", timeout=TIMEOUT)
    return decode_posted(saml_post_form(login)[1]["SAMLResponse"]).find(f".//{{{SAML}}}Assertion")


def idp_session_alive(browser: requests.Session, deployment: Deployment) -> bool:
    """The launcher is shown only to a browser with a live IdP session (otherwise: 303 to /login)."""
    response = browser.get(f"{deployment.base_url}/", allow_redirects=False, timeout=TIMEOUT)
    return response.status_code == 200


def is_signed_out_page(page: requests.Response, deployment: Deployment) -> bool:
    return (
        page.status_code == 200
        and page.url.startswith(deployment.base_url)
        and "You are signed out" in lxml.html.fromstring(page.text).text_content()
    )


def hop_to(response: requests.Response, prefix: str) -> str:
    (url,) = [url for url in hops(response) if url.startswith(prefix)]
    return url


def redirected_message(url: str, param: str) -> etree._Element:
    """A logout message the IdP sent over HTTP-Redirect: signed (python3-saml checks the signature
    where it is the SP), and valid by the SAML protocol schema."""
    query = query_of(url)
    assert query["SigAlg"] == RSA_SHA256 and query["Signature"], f"the {param} is not signed"
    message = decode_redirected(query[param])
    xml = etree.tostring(message)
    assert protocol_schema_errors(xml) == [], protocol_schema_errors(xml)
    return message


def idp_certificate(deployment: Deployment, app: dict) -> bytes:
    certificate = etree.fromstring(app_metadata(deployment, app["id"])).findtext(f".//{{{DS}}}X509Certificate")
    return OneLogin_Saml2_Utils.format_cert(certificate).encode()


def posted_message(
    page: requests.Response, deployment: Deployment, app: dict, field: str
) -> tuple[etree._Element, dict]:
    """A logout message the IdP sent over HTTP-POST: its enveloped signature verified by xmlsec1
    against the IdP's metadata certificate, and valid by the SAML protocol schema."""
    action, fields = saml_post_form(page, field)
    assert action == app["slo_url"]
    xml = base64.b64decode(fields[field])
    message = etree.fromstring(xml)
    assert xmlsec1_verifies(xml, idp_certificate(deployment, app), message.tag.split("}")[1])
    assert protocol_schema_errors(xml) == [], protocol_schema_errors(xml)
    return message, fields


# ---------------------------------------------------------------------------------------------
# (a) SP-initiated
# ---------------------------------------------------------------------------------------------


def test_sp_initiated_logout_ends_the_sp_and_the_idp_sessions(deployment, signing_sp):
    browser = new_browser()
    assertion = login_through_sp(browser, signing_sp, deployment)

    done = browser.get(f"{signing_sp.base_url}/logout", timeout=TIMEOUT)

    request_hop = hop_to(done, f"{deployment.base_url}/sso_applications/{signing_sp.app['id']}/slo?")
    assert "Signature" in query_of(request_hop)
    logout_request = decode_redirected(query_of(request_hop)["SAMLRequest"])
    assert logout_request.findtext(f"{{{SAMLP}}}SessionIndex") == session_index_of(assertion)
    logout_response = redirected_message(hop_to(done, f"{signing_sp.sls_url}?"), "SAMLResponse")
    assert logout_response.tag == f"{{{SAMLP}}}LogoutResponse"
    assert logout_response.get("InResponseTo") == logout_request.get("ID")
    assert status_codes(logout_response) == [STATUS_SUCCESS], "no other SP to sign out: a plain Success"

    assert done.url == f"{signing_sp.base_url}/"
    state = done.json()
    assert state["errors"] == [], "python3-saml accepted the LogoutResponse (strict, signature checked)"
    assert state["signed_in"] is False
    assert not idp_session_alive(browser, deployment)
    assert is_login_page(sp_login(browser, signing_sp), deployment.base_url), "a new login asks for the password"


def test_an_unsigned_logout_request_is_answered_request_denied_and_ends_nothing(deployment, sp):
    """Profiles 4.4.4.1: a LogoutRequest over HTTP-Redirect or HTTP-POST must be signed; an app without
    sp_certificates cannot sign anyone out. The SP hears why, in a signed LogoutResponse."""
    browser = new_browser()
    login_through_sp(browser, sp, deployment)

    done = browser.get(f"{sp.base_url}/logout", timeout=TIMEOUT)

    logout_request = decode_redirected(
        query_of(hop_to(done, f"{deployment.base_url}/sso_applications/{sp.app['id']}/slo?"))["SAMLRequest"]
    )
    logout_response = redirected_message(hop_to(done, f"{sp.sls_url}?"), "SAMLResponse")
    assert logout_response.get("InResponseTo") == logout_request.get("ID")
    assert status_codes(logout_response) == [STATUS_REQUESTER, STATUS_REQUEST_DENIED]
    assert "sp_certificates" in logout_response.findtext(f".//{{{SAMLP}}}StatusMessage")
    assert any("logout_not_success" in error for error in sp.options.errors), (
        f"python3-saml read (and verified) a refusal: {sp.options.errors}"
    )
    assert idp_session_alive(browser, deployment), "nothing ended"
    assert sp_state(browser, sp.base_url)["signed_in"] is True


POST_SLO_URL = "http://127.0.0.1:9/post/slo"  # never contacted: the tests read the form the IdP answers with


def hand_played_app(deployment: Deployment, **fields) -> dict:
    """An app whose SP is played by hand; its SLO endpoint (if any) takes HTTP-POST."""
    return deployment.create_app(
        name="Played by hand",
        acs_url="http://127.0.0.1:9/post/acs",
        entity_id=f"https://hand-{uuid.uuid4().hex[:8]}.sp.example/metadata",
        **fields,
    )


@pytest.fixture
def post_slo_app(deployment) -> dict:
    return hand_played_app(deployment, slo_url=POST_SLO_URL, slo_binding=BINDING_HTTP_POST)


@pytest.fixture
def signing_post_slo_app(deployment, sp_keys) -> dict:
    return hand_played_app(
        deployment, slo_url=POST_SLO_URL, slo_binding=BINDING_HTTP_POST, sp_certificates=[sp_keys[1].decode()]
    )


def enveloped(xml: bytes, sp_keys: tuple[bytes, bytes], digest: str = SHA256, signature: str = RSA_SHA256) -> bytes:
    key, cert = sp_keys
    return OneLogin_Saml2_Utils.add_sign(
        xml, key.decode(), cert.decode(), sign_algorithm=signature, digest_algorithm=digest
    )


def test_an_unsigned_logout_request_over_http_post_is_answered_request_denied(deployment, post_slo_app):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    assertion = login_at_hand_played_sp(browser, deployment, post_slo_app)
    xml = logout_request_xml(
        issuer=post_slo_app["entity_id"],
        destination=f"{deployment.base_url}/saml/slo",
        name_id=name_id_of(assertion)["value"],
        session_index=session_index_of(assertion),
    )

    page = browser.post(
        f"{deployment.base_url}/saml/slo",
        data={"SAMLRequest": base64.b64encode(xml).decode(), "RelayState": "back-to-sp"},
        timeout=TIMEOUT,
    )

    logout_response, fields = posted_message(page, deployment, post_slo_app, "SAMLResponse")
    assert fields["RelayState"] == "back-to-sp"
    assert logout_response.get("InResponseTo") == etree.fromstring(xml).get("ID")
    assert status_codes(logout_response) == [STATUS_REQUESTER, STATUS_REQUEST_DENIED]
    assert idp_session_alive(browser, deployment)


def test_a_signed_logout_request_over_http_post_is_answered_with_a_signed_post(
    deployment, signing_post_slo_app, sp_keys
):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    assertion = login_at_hand_played_sp(browser, deployment, signing_post_slo_app)
    xml = logout_request_xml(
        issuer=signing_post_slo_app["entity_id"],
        destination=f"{deployment.base_url}/saml/slo",
        name_id=name_id_of(assertion)["value"],
        session_index=session_index_of(assertion),
    )

    page = browser.post(
        f"{deployment.base_url}/saml/slo",
        data={"SAMLRequest": base64.b64encode(enveloped(xml, sp_keys)).decode(), "RelayState": "back-to-sp"},
        timeout=TIMEOUT,
    )

    logout_response, fields = posted_message(page, deployment, signing_post_slo_app, "SAMLResponse")
    assert fields["RelayState"] == "back-to-sp"
    assert logout_response.get("InResponseTo") == etree.fromstring(xml).get("ID")
    assert status_codes(logout_response) == [STATUS_SUCCESS]
    assert not idp_session_alive(browser, deployment)


def signed_logout_query(
    deployment: Deployment, sp: ServiceProvider, key_pem: bytes | None, assertion: etree._Element, **changes
) -> str:
    """The LogoutRequest python3-saml would send for this login, with `changes`, as a (signed) query."""
    name_id = name_id_of(assertion)
    fields = {
        "name_id": name_id["value"],
        "name_id_format": name_id["Format"],
        "session_index": session_index_of(assertion),
        **changes,
    }
    xml = logout_request_xml(issuer=sp.app["entity_id"], destination=f"{deployment.base_url}/saml/slo", **fields)
    return redirect_query(xml, relay_state="/after-logout", key_pem=key_pem)


def send_logout_request(browser: requests.Session, deployment: Deployment, query: str) -> requests.Response:
    return browser.get(f"{deployment.base_url}/saml/slo?{query}", allow_redirects=False, timeout=TIMEOUT)


def test_a_logout_request_signed_with_the_registered_key_is_answered(deployment, signing_sp, sp_keys):
    """The control for the refusals below: the same request, signed with the SP's own key."""
    browser = new_browser()
    assertion = login_through_sp(browser, signing_sp, deployment)

    answer = send_logout_request(
        browser, deployment, signed_logout_query(deployment, signing_sp, sp_keys[0], assertion)
    )

    assert answer.status_code == 302 and answer.headers["Location"].startswith(f"{signing_sp.sls_url}?SAMLResponse=")
    assert status_codes(redirected_message(answer.headers["Location"], "SAMLResponse")) == [STATUS_SUCCESS]
    assert not idp_session_alive(browser, deployment)


def test_qualifiers_that_only_say_what_the_context_says_may_be_left_out_or_spelled_out(
    deployment, persistent_sp, sp_keys
):
    """Core 8.3.7: NameQualifier and SPNameQualifier may be left out when the message gives them (the
    IdP it is sent to, the SP that sends it). python3-saml leaves them out; this request spells them out."""
    browser = new_browser()
    assertion = login_through_sp(browser, persistent_sp, deployment)
    asserted = name_id_of(assertion)
    assert asserted["NameQualifier"] and asserted["SPNameQualifier"] == persistent_sp.app["entity_id"]
    qualifiers = {"NameQualifier": asserted["NameQualifier"], "SPNameQualifier": asserted["SPNameQualifier"]}

    query = signed_logout_query(deployment, persistent_sp, sp_keys[0], assertion, qualifiers=qualifiers)
    answer = send_logout_request(browser, deployment, query)

    assert status_codes(redirected_message(answer.headers["Location"], "SAMLResponse")) == [STATUS_SUCCESS]
    assert not idp_session_alive(browser, deployment)


OTHER_LOGINS = {
    "another-name-id": {"name_id": "someone-else@acme.example"},
    "another-format": {"name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"},
    "format-left-out": {"name_id_format": None},  # Core 2.2.2: then it is `unspecified`
    "another-name-qualifier": {"qualifiers": {"NameQualifier": "https://other-idp.example/metadata"}},
    "another-sp-name-qualifier": {"qualifiers": {"SPNameQualifier": "https://affiliation.example"}},
    "another-session-index": {"session_index": "_not-a-session-of-ours"},
    "no-session-index": {"session_index": None},
}


@pytest.mark.parametrize("changes", OTHER_LOGINS.values(), ids=OTHER_LOGINS.keys())
def test_a_logout_request_naming_another_login_is_answered_unknown_principal(deployment, signing_sp, sp_keys, changes):
    browser = new_browser()
    assertion = login_through_sp(browser, signing_sp, deployment)

    answer = send_logout_request(
        browser, deployment, signed_logout_query(deployment, signing_sp, sp_keys[0], assertion, **changes)
    )

    assert answer.status_code == 302 and answer.headers["Location"].startswith(f"{signing_sp.sls_url}?SAMLResponse=")
    logout_response = redirected_message(answer.headers["Location"], "SAMLResponse")
    assert status_codes(logout_response) == [STATUS_REQUESTER, STATUS_UNKNOWN_PRINCIPAL]
    assert idp_session_alive(browser, deployment), "nothing ended"


def test_an_expired_logout_request_is_answered_request_denied(deployment, signing_sp, sp_keys):
    browser = new_browser()
    assertion = login_through_sp(browser, signing_sp, deployment)
    query = signed_logout_query(deployment, signing_sp, sp_keys[0], assertion, not_on_or_after="2020-01-01T00:00:00Z")

    answer = send_logout_request(browser, deployment, query)

    logout_response = redirected_message(answer.headers["Location"], "SAMLResponse")
    assert status_codes(logout_response) == [STATUS_REQUESTER, STATUS_REQUEST_DENIED]
    assert idp_session_alive(browser, deployment)


# ---------------------------------------------------------------------------------------------
# (b) SP-initiated, propagated to the session's other SPs (Core 3.7.3.2)
# ---------------------------------------------------------------------------------------------


def test_logging_out_at_one_sp_signs_the_sessions_other_sps_out_before_it_is_answered(
    deployment, signing_sp, persistent_sp
):
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)
    other_assertion = login_through_sp(browser, persistent_sp, deployment)

    done = browser.get(f"{signing_sp.base_url}/logout", timeout=TIMEOUT)

    visited = hops(done)
    to_other = hop_to(done, f"{persistent_sp.sls_url}?SAMLRequest=")
    answer = hop_to(done, f"{signing_sp.sls_url}?SAMLResponse=")
    assert visited.index(to_other) < visited.index(answer), f"the initiating SP was answered first: {visited}"
    propagated = redirected_message(to_other, "SAMLRequest")
    assert name_id_of(propagated) == name_id_of(other_assertion), "the NameID exactly as it was asserted"
    assert propagated.findtext(f"{{{SAMLP}}}SessionIndex") == session_index_of(other_assertion)
    assert propagated.get("NotOnOrAfter") > propagated.get("IssueInstant")
    assert status_codes(redirected_message(answer, "SAMLResponse")) == [STATUS_SUCCESS]

    assert done.url == f"{signing_sp.base_url}/" and done.json() == {**done.json(), "signed_in": False, "errors": []}
    other = sp_state(browser, persistent_sp.base_url)
    assert other["signed_in"] is False and other["errors"] == [], "python3-saml accepted the propagated LogoutRequest"
    assert not idp_session_alive(browser, deployment)


def test_a_participant_without_an_slo_endpoint_makes_the_logout_partial(deployment, signing_sp):
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)
    login_at_hand_played_sp(browser, deployment, hand_played_app(deployment))

    done = browser.get(f"{signing_sp.base_url}/logout", timeout=TIMEOUT)

    answer = redirected_message(hop_to(done, f"{signing_sp.sls_url}?SAMLResponse="), "SAMLResponse")
    assert status_codes(answer) == [STATUS_SUCCESS, STATUS_PARTIAL_LOGOUT]
    assert done.json()["errors"] == [] and done.json()["signed_in"] is False, "python3-saml took it as a logout"
    assert not idp_session_alive(browser, deployment)


def test_a_participant_that_answers_a_failure_makes_the_logout_partial(deployment, signing_sp, post_slo_app):
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)
    played_assertion = login_at_hand_played_sp(browser, deployment, post_slo_app)

    page = browser.get(f"{signing_sp.base_url}/logout", timeout=TIMEOUT)
    propagated, fields = posted_message(page, deployment, post_slo_app, "SAMLRequest")
    assert name_id_of(propagated) == name_id_of(played_assertion)
    failure = logout_response_xml(
        issuer=post_slo_app["entity_id"],
        destination=f"{deployment.base_url}/saml/slo",
        in_response_to=propagated.get("ID"),
        status=STATUS_RESPONDER,
    )
    done = browser.post(
        f"{deployment.base_url}/saml/slo",
        data={"SAMLResponse": base64.b64encode(failure).decode(), "RelayState": fields["RelayState"]},
        timeout=TIMEOUT,
    )

    answer = redirected_message(hop_to(done, f"{signing_sp.sls_url}?SAMLResponse="), "SAMLResponse")
    assert status_codes(answer) == [STATUS_SUCCESS, STATUS_PARTIAL_LOGOUT]
    assert done.url == f"{signing_sp.base_url}/" and done.json()["errors"] == []
    assert not idp_session_alive(browser, deployment)


# ---------------------------------------------------------------------------------------------
# (c) IdP-initiated, from the launcher
# ---------------------------------------------------------------------------------------------


def test_signing_out_in_the_launcher_signs_the_sp_out(deployment, sp):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    assertion = login_through_sp(browser, sp, deployment)

    done = sign_out_in_launcher(browser, deployment)

    logout_request = redirected_message(hop_to(done, f"{sp.sls_url}?"), "SAMLRequest")
    assert logout_request.tag == f"{{{SAMLP}}}LogoutRequest"
    assert (
        name_id_of(logout_request)
        == name_id_of(assertion)
        == {
            "value": deployment.agent_email,
            "Format": NAMEID_EMAIL,
            "NameQualifier": None,
            "SPNameQualifier": None,
        }
    )
    assert logout_request.findtext(f"{{{SAMLP}}}SessionIndex") == session_index_of(assertion)
    assert logout_request.get("NotOnOrAfter") > logout_request.get("IssueInstant")
    assert hop_to(done, f"{deployment.base_url}/sso_applications/{sp.app['id']}/slo?SAMLResponse="), (
        "the SP answered, back at the IdP"
    )
    assert is_signed_out_page(done, deployment)
    state = sp_state(browser, sp.base_url)
    assert state["signed_in"] is False and state["errors"] == [], "python3-saml accepted the LogoutRequest"
    assert not idp_session_alive(browser, deployment)


def test_signing_out_in_the_launcher_sends_a_persistent_name_id_with_its_qualifiers(deployment, persistent_sp):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    assertion = login_through_sp(browser, persistent_sp, deployment)

    done = sign_out_in_launcher(browser, deployment)

    logout_request = redirected_message(hop_to(done, f"{persistent_sp.sls_url}?"), "SAMLRequest")
    assert name_id_of(logout_request) == name_id_of(assertion)
    assert name_id_of(logout_request)["SPNameQualifier"] == persistent_sp.app["entity_id"]
    assert is_signed_out_page(done, deployment)
    assert sp_state(browser, persistent_sp.base_url) == {
        **sp_state(browser, persistent_sp.base_url),
        "signed_in": False,
        "errors": [],
    }


def test_signing_out_in_the_launcher_accepts_a_signed_logout_response(deployment, signing_sp):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    login_through_sp(browser, signing_sp, deployment)

    done = sign_out_in_launcher(browser, deployment)

    assert "Signature" in query_of(
        hop_to(done, f"{deployment.base_url}/sso_applications/{signing_sp.app['id']}/slo?SAMLResponse=")
    )
    assert is_signed_out_page(done, deployment), f"{done.status_code} at {done.url}: {done.text[-400:]}"
    assert sp_state(browser, signing_sp.base_url)["signed_in"] is False


def test_signing_out_with_no_sp_goes_straight_to_the_signed_out_page(deployment):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)

    done = sign_out_in_launcher(browser, deployment)

    assert hops(done) == [f"{deployment.base_url}/logout"]
    assert is_signed_out_page(done, deployment) and "could not be signed out" not in page_text(done)
    assert not idp_session_alive(browser, deployment)


def test_signing_out_says_when_an_sp_without_an_slo_endpoint_could_not_be_signed_out(deployment):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    login_at_hand_played_sp(browser, deployment, hand_played_app(deployment))

    done = sign_out_in_launcher(browser, deployment)

    assert is_signed_out_page(done, deployment) and "could not be signed out" in page_text(done)
    assert not idp_session_alive(browser, deployment)


def test_signing_out_posts_a_signed_logout_request_to_an_http_post_sp(deployment, post_slo_app):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    assertion = login_at_hand_played_sp(browser, deployment, post_slo_app)

    page = sign_out_in_launcher(browser, deployment)

    logout_request, fields = posted_message(page, deployment, post_slo_app, "SAMLRequest")
    assert logout_request.tag == f"{{{SAMLP}}}LogoutRequest" and logout_request.get("Destination") == POST_SLO_URL
    assert name_id_of(logout_request) == name_id_of(assertion)
    assert logout_request.get("NotOnOrAfter") > logout_request.get("IssueInstant")

    answer = logout_response_xml(
        issuer=post_slo_app["entity_id"],
        destination=f"{deployment.base_url}/saml/slo",
        in_response_to=logout_request.get("ID"),
    )
    done = browser.post(
        f"{deployment.base_url}/saml/slo",
        data={"SAMLResponse": base64.b64encode(answer).decode(), "RelayState": fields["RelayState"]},
        timeout=TIMEOUT,
    )
    assert is_signed_out_page(done, deployment)
    assert not idp_session_alive(browser, deployment)


@pytest.mark.parametrize("endpoint", ["global", "the app's own"])
def test_the_logout_request_comes_from_the_issuer_the_sp_signed_in_under(deployment, endpoint):
    app = hand_played_app(
        deployment, slo_url=POST_SLO_URL, slo_binding=BINDING_HTTP_POST, issuer="https://idp.example/apps/own"
    )
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    sso = (
        f"{deployment.base_url}/saml/sso"
        if endpoint == "global"
        else f"{deployment.base_url}/sso_applications/{app['id']}/sso"
    )
    login = browser.get(f"{sso}?{redirect_query(authn_request_xml(issuer=app['entity_id']))}", timeout=TIMEOUT)
    response = decode_posted(saml_post_form(login)[1]["SAMLResponse"])
    expected = f"{deployment.base_url}/metadata" if endpoint == "global" else "https://idp.example/apps/own"
    assert response.findtext(f"{{{SAML}}}Issuer") == expected

    page = sign_out_in_launcher(browser, deployment)

    logout_request, _ = posted_message(page, deployment, app, "SAMLRequest")
    assert logout_request.findtext(f"{{{SAML}}}Issuer") == expected


def test_signing_out_without_the_csrf_token_is_forbidden(deployment, sp):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    login_through_sp(browser, sp, deployment)

    forged = browser.post(f"{deployment.base_url}/logout", data={}, allow_redirects=False, timeout=TIMEOUT)

    assert forged.status_code == 403
    assert idp_session_alive(browser, deployment)
    assert sp_state(browser, sp.base_url)["signed_in"] is True


def test_a_launch_link_opened_in_a_signed_in_browser_joins_single_logout(deployment, sp):
    """README and idp/web/launch.py: a launch link opened in a browser holding an IdP session of the
    same user adds that SP to the session, so signing out in the launcher reaches it."""
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    launched = browser.get(deployment.open_url(sp.app["id"]), timeout=TIMEOUT)
    assert post_form(browser, launched).json()["signed_in"] is True

    done = sign_out_in_launcher(browser, deployment)

    assert any(url.startswith(f"{sp.sls_url}?SAMLRequest=") for url in hops(done)), (
        f"no LogoutRequest was sent to the SP; the browser went {hops(done)}"
    )
    assert sp_state(browser, sp.base_url)["signed_in"] is False


# ---------------------------------------------------------------------------------------------
# pysaml2 as the SP, both ways (it takes our messages over HTTP-POST): it checks our signatures, and
# matches the NameID of our LogoutRequest against the one it was asserted (comparing every attribute)
# ---------------------------------------------------------------------------------------------

PYSAML2_ACS = "http://127.0.0.1:9/pysaml2/acs"  # never contacted: the tests carry what the IdP answers
PYSAML2_SLO = "http://127.0.0.1:9/pysaml2/slo"


@dataclass
class Pysaml2Sp:
    app: dict
    client: Any
    idp_entity_id: str


@pytest.fixture
def pysaml2_sp(deployment, sp_keys, tmp_path) -> Pysaml2Sp:
    """pysaml2 with persistent NameIDs, so that our LogoutRequests must carry both qualifiers."""
    key, cert = sp_keys
    entity_id = f"https://pysaml2-{uuid.uuid4().hex[:8]}.sp.example/metadata"
    app = deployment.create_app(
        name="pysaml2 SP",
        acs_url=PYSAML2_ACS,
        entity_id=entity_id,
        sp_certificates=[cert.decode()],
        slo_url=PYSAML2_SLO,
        slo_binding=BINDING_HTTP_POST,
        name_id_format=NAMEID_PERSISTENT,
    )
    metadata = app_metadata(deployment, app["id"])
    client = pysaml2_client(
        tmp_path,
        entity_id=entity_id,
        acs_url=PYSAML2_ACS,
        idp_metadata=metadata,
        key_pem=key,
        cert_pem=cert,
        slo_url=PYSAML2_SLO,
    )
    return Pysaml2Sp(app, client, idp_entity_id(metadata))


def pysaml2_login(browser: requests.Session, deployment: Deployment, sp: Pysaml2Sp):
    """pysaml2's signed AuthnRequest through the browser; pysaml2 takes the Response (and keeps the
    identity for logout). Returns the NameID it holds."""
    request_id, info = sp.client.prepare_for_authenticate(
        entityid=sp.idp_entity_id, relay_state="/", binding=BINDING_HTTP_REDIRECT, sign=True, sigalg=RSA_SHA256
    )
    page = browser.get(dict(info["headers"])["Location"], timeout=TIMEOUT)
    if is_login_page(page, deployment.base_url):
        page = sign_in(browser, page, deployment.agent_email)
    _, fields = saml_post_form(page)
    response = sp.client.parse_authn_request_response(
        fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={request_id: "/"}
    )
    assert response is not None and response.name_id.sp_name_qualifier == sp.app["entity_id"]
    return response.name_id


def form_of(html: str) -> tuple[str, dict[str, str]]:
    form = lxml.html.fromstring(html).forms[0]
    return form.action, dict(form.fields)


def test_pysaml2_signs_out_when_the_launcher_signs_out(deployment, pysaml2_sp):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    name_id = pysaml2_login(browser, deployment, pysaml2_sp)

    page = sign_out_in_launcher(browser, deployment)
    _, fields = posted_message(page, deployment, pysaml2_sp.app, "SAMLRequest")
    answered = pysaml2_sp.client.handle_logout_request(
        fields["SAMLRequest"], name_id, BINDING_HTTP_POST, sign=True, relay_state=fields["RelayState"]
    )

    action, answer = form_of(answered["data"])
    assert status_codes(decode_posted(answer["SAMLResponse"])) == [STATUS_SUCCESS], (
        "pysaml2 verified our LogoutRequest and found the very NameID it was asserted"
    )
    assert not pysaml2_sp.client.users.subjects(), "pysaml2 forgot the user"
    done = browser.post(action, data=answer, timeout=TIMEOUT)
    assert is_signed_out_page(done, deployment), page_text(done)


def test_pysaml2_signing_out_ends_the_idp_session_and_hears_success(deployment, pysaml2_sp):
    browser = new_browser()
    name_id = pysaml2_login(browser, deployment, pysaml2_sp)

    sent = pysaml2_sp.client.global_logout(name_id, sign=True, sign_alg=RSA_SHA256, digest_alg=SHA256)
    (binding, http_args), *_ = sent.values()
    if binding == BINDING_HTTP_REDIRECT:
        location = dict(http_args["headers"])["Location"]
        assert query_of(location)["SigAlg"] == RSA_SHA256
        page = browser.get(location, timeout=TIMEOUT)
    else:
        action, fields = form_of(http_args["data"])
        page = browser.post(action, data=fields, timeout=TIMEOUT)

    logout_response, answer = posted_message(page, deployment, pysaml2_sp.app, "SAMLResponse")
    assert status_codes(logout_response) == [STATUS_SUCCESS]
    parsed = pysaml2_sp.client.parse_logout_request_response(answer["SAMLResponse"], BINDING_HTTP_POST)
    assert parsed is not None and parsed.status_ok(), "pysaml2 verified and accepted the LogoutResponse"
    assert not idp_session_alive(browser, deployment)


# ---------------------------------------------------------------------------------------------
# (d) Logout requests that cannot be trusted: an error page, and nothing ends
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["another-key", "changed-after-signing"])
def test_a_logout_request_with_a_bad_signature_is_refused(deployment, signing_sp, sp_keys, how):
    browser = new_browser()
    assertion = login_through_sp(browser, signing_sp, deployment)
    if how == "another-key":
        other_key, _ = make_signing_pair(2048, "someone else")
        query = signed_logout_query(deployment, signing_sp, other_key, assertion)
    else:
        query = replace_param(
            signed_logout_query(deployment, signing_sp, sp_keys[0], assertion), "RelayState", "%2Felsewhere"
        )

    answer = send_logout_request(browser, deployment, query)

    assert answer.status_code == 200  # a refusal page: Bindings 3.4.6 signals no SAML failure by HTTP status
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Location" not in answer.headers and "SAMLResponse" not in answer.text
    assert idp_session_alive(browser, deployment), "a refused logout request leaves the IdP session alone"


def test_a_signed_logout_request_addressed_to_another_idp_is_refused(deployment, signing_sp, sp_keys):
    """Bindings 3.4.5.2: for a signed message the recipient MUST check that Destination is where it
    was received; a LogoutRequest the SP signed for another IdP must not be acted on here."""
    browser = new_browser()
    assertion = login_through_sp(browser, signing_sp, deployment)
    xml = logout_request_xml(
        issuer=signing_sp.app["entity_id"],
        destination="https://other-idp.example/saml/slo",
        name_id=deployment.agent_email,
        session_index=session_index_of(assertion),
    )

    answer = send_logout_request(browser, deployment, redirect_query(xml, key_pem=sp_keys[0]))

    assert answer.status_code == 200 and "Location" not in answer.headers, (
        f"acted on: {answer.status_code} to {answer.headers.get('Location')}"
    )
    assert idp_session_alive(browser, deployment)


# ---------------------------------------------------------------------------------------------
# (e) SHA-1: refused unless the app allows it
# ---------------------------------------------------------------------------------------------

RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


@pytest.fixture
def sha1_signing_sp(deployment, sp_keys) -> Iterator[ServiceProvider]:
    """python3-saml asked to sign its logout messages with RSA-SHA1 and SHA-1 digests."""
    key, cert = sp_keys
    options = SpOptions(
        key_pem=key.decode(), cert_pem=cert.decode(), signature_algorithm=RSA_SHA1, digest_algorithm=SHA1
    )
    with python3_saml_sp(deployment, options, sp_certificates=[cert.decode()]) as running:
        yield running


def test_a_sha1_signed_logout_request_is_refused_unless_the_app_allows_sha1(deployment, sha1_signing_sp):
    browser = new_browser()
    login_through_sp(browser, sha1_signing_sp, deployment)

    done = browser.get(f"{sha1_signing_sp.base_url}/logout", timeout=TIMEOUT)

    request_hop = hop_to(done, f"{deployment.base_url}/sso_applications/{sha1_signing_sp.app['id']}/slo?")
    assert query_of(request_hop)["SigAlg"] == RSA_SHA1
    assert done.status_code == 200, f"{done.status_code} at {done.url}"
    assert "signed with SHA-1, which is refused" in page_text(done)
    assert "allow_sha1_signatures" in page_text(done)
    assert idp_session_alive(browser, deployment), "a refused logout request leaves the IdP session alone"


def test_a_sha1_signed_logout_request_signs_out_when_the_app_allows_sha1(deployment, sha1_signing_sp):
    deployment.update_app(sha1_signing_sp.app["id"], allow_sha1_signatures=True)
    browser = new_browser()
    login_through_sp(browser, sha1_signing_sp, deployment)

    done = browser.get(f"{sha1_signing_sp.base_url}/logout", timeout=TIMEOUT)

    assert done.url == f"{sha1_signing_sp.base_url}/", f"{done.status_code}: {done.text[:300]}"
    assert done.json()["errors"] == [] and done.json()["signed_in"] is False
    assert not idp_session_alive(browser, deployment)


@pytest.mark.parametrize("allowed", [False, True], ids=["refused", "allowed"])
def test_a_sha1_signed_logout_response_counts_only_when_the_app_allows_sha1(deployment, sha1_signing_sp, allowed):
    """Signing out in the launcher: the SP answers with a LogoutResponse it signs with RSA-SHA1."""
    deployment.update_app(sha1_signing_sp.app["id"], allow_sha1_signatures=allowed)
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    login_through_sp(browser, sha1_signing_sp, deployment)

    done = sign_out_in_launcher(browser, deployment)

    answer_hop = hop_to(done, f"{deployment.base_url}/sso_applications/{sha1_signing_sp.app['id']}/slo?SAMLResponse=")
    assert query_of(answer_hop)["SigAlg"] == RSA_SHA1
    assert is_signed_out_page(done, deployment), f"{done.status_code} at {done.url}: {page_text(done)}"
    # A refused answer counts as a failure to sign that SP out, and the page says some may not be.
    assert ("could not be signed out" in page_text(done)) is not allowed
    assert sp_state(browser, sha1_signing_sp.base_url)["signed_in"] is False, "the SP itself signed out"


def test_a_refused_logout_response_from_another_sp_makes_the_logout_partial(deployment, signing_sp, sha1_signing_sp):
    """The session's other SP answers with an RSA-SHA1 signature its app does not allow: the IdP
    cannot trust that answer, so the SP that started is told PartialLogout (Core 3.7.3.2)."""
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)
    login_through_sp(browser, sha1_signing_sp, deployment)

    done = browser.get(f"{signing_sp.base_url}/logout", timeout=TIMEOUT)

    refused = hop_to(done, f"{deployment.base_url}/sso_applications/{sha1_signing_sp.app['id']}/slo?SAMLResponse=")
    assert query_of(refused)["SigAlg"] == RSA_SHA1
    answer = redirected_message(hop_to(done, f"{signing_sp.sls_url}?SAMLResponse="), "SAMLResponse")
    assert status_codes(answer) == [STATUS_SUCCESS, STATUS_PARTIAL_LOGOUT]
    assert done.url == f"{signing_sp.base_url}/" and done.json()["errors"] == []
    assert not idp_session_alive(browser, deployment)


@pytest.mark.parametrize("signature", [RSA_SHA1, RSA_SHA256], ids=["rsa-sha1", "rsa-sha256-with-sha1-digest"])
@pytest.mark.parametrize("allowed", [False, True], ids=["refused", "allowed"])
def test_a_logout_request_posted_with_any_sha1_is_answered_only_when_the_app_allows_sha1(
    deployment, signing_sp, sp_keys, signature, allowed
):
    """HTTP-POST: an enveloped signature with an RSA-SHA1 SignatureMethod, or RSA-SHA256 over a
    SHA-1 digest."""
    deployment.update_app(signing_sp.app["id"], allow_sha1_signatures=allowed)
    browser = new_browser()
    assertion = login_through_sp(browser, signing_sp, deployment)
    xml = logout_request_xml(
        issuer=signing_sp.app["entity_id"],
        destination=f"{deployment.base_url}/saml/slo",
        name_id=deployment.agent_email,
        session_index=session_index_of(assertion),
    )
    fields = {"SAMLRequest": base64.b64encode(enveloped(xml, sp_keys, digest=SHA1, signature=signature)).decode()}

    answer = browser.post(f"{deployment.base_url}/saml/slo", data=fields, allow_redirects=False, timeout=TIMEOUT)

    if allowed:
        assert answer.status_code == 302, f"{answer.status_code}: {page_text(answer)}"
        assert answer.headers["Location"].startswith(f"{signing_sp.sls_url}?SAMLResponse=")
        assert not idp_session_alive(browser, deployment)
    else:
        assert answer.status_code == 200 and "signed with SHA-1, which is refused" in page_text(answer)
        assert idp_session_alive(browser, deployment)
