"""Single logout against the Procfile's gunicorn, with python3-saml (strict) as the SP on loopback:
SP-initiated, IdP-initiated from the launcher, and logout messages that must be refused."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import lxml.html
import pytest
import requests
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp.keyring import make_signing_pair
from tests.deployment import Deployment
from tests.e2e.sp_helpers import (
    BINDING_HTTP_POST,
    DS,
    RSA_SHA256,
    SAML,
    SAMLP,
    STATUS_SUCCESS,
    TIMEOUT,
    ServiceProvider,
    app_metadata,
    authn_request_xml,
    decode_posted,
    decode_redirected,
    deployment_in,
    hops,
    is_login_page,
    logout_request_xml,
    logout_response_xml,
    new_browser,
    page_text,
    post_form,
    python3_saml_sp,
    query_of,
    redirect_query,
    replace_param,
    saml_post_form,
    sign_in,
    sign_in_at_idp,
    sp_login,
    sp_state,
)
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
    """An SP that signs its logout messages; the app registers its certificate, so it must."""
    key, cert = sp_keys
    options = SpOptions(key_pem=key.decode(), cert_pem=cert.decode())
    with python3_saml_sp(deployment, options, sp_certificates=[cert.decode()]) as running:
        yield running


def login_through_sp(browser: requests.Session, sp: ServiceProvider, deployment: Deployment) -> str:
    """SP-initiated login (with the password when the browser has no IdP session); returns the SessionIndex."""
    page = sp_login(browser, sp)
    if is_login_page(page, deployment.base_url):
        page = sign_in(browser, page, deployment.agent_email)
    response = decode_posted(saml_post_form(page)[1]["SAMLResponse"])
    landed = post_form(browser, page)
    assert landed.json()["signed_in"] is True and landed.json()["errors"] == [], landed.text
    return response.find(f".//{{{SAML}}}AuthnStatement").get("SessionIndex")


def idp_session_alive(browser: requests.Session, deployment: Deployment) -> bool:
    """The launcher is shown only to a browser with a live IdP session (otherwise: 303 to /login)."""
    response = browser.get(f"{deployment.base_url}/", allow_redirects=False, timeout=TIMEOUT)
    return response.status_code == 200


def sign_out_in_launcher(browser: requests.Session, deployment: Deployment) -> requests.Response:
    launcher = browser.get(f"{deployment.base_url}/", timeout=TIMEOUT)
    (form,) = [form for form in lxml.html.fromstring(launcher.text).forms if form.action == "/logout"]
    assert form.fields["csrf_token"]
    return browser.post(f"{deployment.base_url}/logout", data=dict(form.fields), timeout=TIMEOUT)


def is_signed_out_page(page: requests.Response, deployment: Deployment) -> bool:
    return (
        page.status_code == 200
        and page.url.startswith(deployment.base_url)
        and "You are signed out" in lxml.html.fromstring(page.text).text_content()
    )


def hop_to(response: requests.Response, prefix: str) -> str:
    (url,) = [url for url in hops(response) if url.startswith(prefix)]
    return url


# ---------------------------------------------------------------------------------------------
# (a) SP-initiated
# ---------------------------------------------------------------------------------------------


def test_sp_initiated_logout_ends_the_sp_and_the_idp_sessions(deployment, sp):
    browser = new_browser()
    login_through_sp(browser, sp, deployment)

    done = browser.get(f"{sp.base_url}/logout", timeout=TIMEOUT)

    request_hop = hop_to(done, f"{deployment.base_url}/sso_applications/{sp.app['id']}/slo?")
    logout_request = decode_redirected(query_of(request_hop)["SAMLRequest"])
    assert logout_request.findtext(f"{{{SAML}}}NameID") == deployment.agent_email
    answer_hop = query_of(hop_to(done, f"{sp.sls_url}?"))
    assert answer_hop["SigAlg"] == RSA_SHA256 and answer_hop["Signature"], "the LogoutResponse is signed"
    logout_response = decode_redirected(answer_hop["SAMLResponse"])
    assert logout_response.tag == f"{{{SAMLP}}}LogoutResponse"
    assert logout_response.get("InResponseTo") == logout_request.get("ID")
    assert logout_response.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode").get("Value") == STATUS_SUCCESS

    assert done.url == f"{sp.base_url}/"
    state = done.json()
    assert state["errors"] == [], "python3-saml accepted the LogoutResponse (strict, signature checked)"
    assert state["signed_in"] is False
    assert not idp_session_alive(browser, deployment)
    assert is_login_page(sp_login(browser, sp), deployment.base_url), "a new login asks for the password"


def test_an_sp_that_signs_its_logout_request_is_signed_out(deployment, signing_sp):
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)

    done = browser.get(f"{signing_sp.base_url}/logout", timeout=TIMEOUT)

    assert "Signature" in query_of(hop_to(done, f"{deployment.base_url}/sso_applications/{signing_sp.app['id']}/slo?"))
    assert done.url == f"{signing_sp.base_url}/", f"{done.status_code}: {done.text[:300]}"
    assert done.json()["errors"] == [] and done.json()["signed_in"] is False
    assert not idp_session_alive(browser, deployment)


# ---------------------------------------------------------------------------------------------
# (b) IdP-initiated, from the launcher
# ---------------------------------------------------------------------------------------------


def test_signing_out_in_the_launcher_signs_the_sp_out(deployment, sp):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    session_index = login_through_sp(browser, sp, deployment)

    done = sign_out_in_launcher(browser, deployment)

    request_hop = query_of(hop_to(done, f"{sp.sls_url}?"))
    assert request_hop["SigAlg"] == RSA_SHA256 and request_hop["Signature"], "the LogoutRequest is signed"
    logout_request = decode_redirected(request_hop["SAMLRequest"])
    assert logout_request.tag == f"{{{SAMLP}}}LogoutRequest"
    assert logout_request.findtext(f"{{{SAML}}}NameID") == deployment.agent_email
    assert logout_request.findtext(f"{{{SAMLP}}}SessionIndex") == session_index
    assert hop_to(done, f"{deployment.base_url}/sso_applications/{sp.app['id']}/slo?SAMLResponse="), (
        "the SP answered, back at the IdP"
    )
    assert is_signed_out_page(done, deployment)
    state = sp_state(browser, sp.base_url)
    assert state["signed_in"] is False and state["errors"] == [], "python3-saml accepted the LogoutRequest"
    assert not idp_session_alive(browser, deployment)


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
    assert is_signed_out_page(done, deployment)
    assert not idp_session_alive(browser, deployment)


POST_SLO_URL = "http://127.0.0.1:9/post/slo"  # never contacted: the tests read the form the IdP answers with


@pytest.fixture
def post_slo_app(deployment) -> dict:
    """An app whose SLO endpoint takes HTTP-POST; its SP is played by hand."""
    return deployment.create_app(
        name="POST SLO",
        acs_url="http://127.0.0.1:9/post/acs",
        entity_id=f"https://post-slo-{uuid.uuid4().hex[:8]}.sp.example/metadata",
        slo_url=POST_SLO_URL,
        slo_binding=BINDING_HTTP_POST,
    )


def signed_by_idp(xml: bytes, deployment: Deployment, app: dict, tag: str) -> bool:
    """python3-saml's check of the enveloped signature on the root, against the IdP's metadata certificate."""
    certificate = etree.fromstring(app_metadata(deployment, app["id"])).findtext(f".//{{{DS}}}X509Certificate")
    pem = OneLogin_Saml2_Utils.format_cert(certificate)
    return OneLogin_Saml2_Utils.validate_sign(xml, cert=pem, xpath=f"/samlp:{tag}/ds:Signature")


def test_signing_out_posts_a_signed_logout_request_to_an_http_post_sp(deployment, post_slo_app):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    sso = f"{deployment.base_url}/sso_applications/{post_slo_app['id']}/sso"
    login = browser.get(f"{sso}?{redirect_query(authn_request_xml(issuer=post_slo_app['entity_id']))}", timeout=TIMEOUT)
    name_id = decode_posted(saml_post_form(login)[1]["SAMLResponse"]).findtext(f".//{{{SAML}}}NameID")

    page = sign_out_in_launcher(browser, deployment)

    action, fields = saml_post_form(page, "SAMLRequest")
    assert action == POST_SLO_URL
    xml = base64.b64decode(fields["SAMLRequest"])
    logout_request = etree.fromstring(xml)
    assert logout_request.tag == f"{{{SAMLP}}}LogoutRequest" and logout_request.get("Destination") == POST_SLO_URL
    assert logout_request.findtext(f"{{{SAML}}}NameID") == name_id
    assert signed_by_idp(xml, deployment, post_slo_app, "LogoutRequest")

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


def test_a_logout_request_from_an_http_post_sp_is_answered_with_a_signed_post(deployment, post_slo_app):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    xml = logout_request_xml(
        issuer=post_slo_app["entity_id"],
        destination=f"{deployment.base_url}/saml/slo",
        name_id=deployment.agent_email,
    )

    page = browser.post(
        f"{deployment.base_url}/saml/slo",
        data={"SAMLRequest": base64.b64encode(xml).decode(), "RelayState": "back-to-sp"},
        timeout=TIMEOUT,
    )

    action, fields = saml_post_form(page)
    assert action == POST_SLO_URL and fields["RelayState"] == "back-to-sp"
    answer = base64.b64decode(fields["SAMLResponse"])
    logout_response = etree.fromstring(answer)
    assert logout_response.get("InResponseTo") == etree.fromstring(xml).get("ID")
    assert logout_response.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode").get("Value") == STATUS_SUCCESS
    assert signed_by_idp(answer, deployment, post_slo_app, "LogoutResponse")
    assert not idp_session_alive(browser, deployment)


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
# (c) Logout messages that must be refused
# ---------------------------------------------------------------------------------------------


def send_logout_request(browser: requests.Session, deployment: Deployment, query: str) -> requests.Response:
    return browser.get(f"{deployment.base_url}/saml/slo?{query}", allow_redirects=False, timeout=TIMEOUT)


def signed_logout_query(deployment: Deployment, sp: ServiceProvider, key_pem: bytes | None) -> str:
    xml = logout_request_xml(
        issuer=sp.app["entity_id"], destination=f"{deployment.base_url}/saml/slo", name_id=deployment.agent_email
    )
    return redirect_query(xml, relay_state="/after-logout", key_pem=key_pem)


def test_a_logout_request_signed_with_the_registered_key_is_answered(deployment, signing_sp, sp_keys):
    """The control for the refusals below: the same request, signed with the SP's own key."""
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)

    answer = send_logout_request(browser, deployment, signed_logout_query(deployment, signing_sp, sp_keys[0]))

    assert answer.status_code == 302 and answer.headers["Location"].startswith(f"{signing_sp.sls_url}?SAMLResponse=")
    assert not idp_session_alive(browser, deployment)


@pytest.mark.parametrize("how", ["another-key", "changed-after-signing", "unsigned"])
def test_a_logout_request_with_a_bad_signature_is_refused(deployment, signing_sp, how):
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)
    other_key, _ = make_signing_pair(2048, "someone else")
    if how == "another-key":
        query = signed_logout_query(deployment, signing_sp, other_key)
    elif how == "unsigned":
        query = signed_logout_query(deployment, signing_sp, None)
    else:
        good_key = signing_sp.options.key_pem.encode()
        query = replace_param(signed_logout_query(deployment, signing_sp, good_key), "RelayState", "%2Felsewhere")

    answer = send_logout_request(browser, deployment, query)

    assert answer.status_code == 200  # a refusal page: Bindings 3.4.6 signals no SAML failure by HTTP status
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Location" not in answer.headers
    assert idp_session_alive(browser, deployment), "a refused logout request leaves the IdP session alone"


def test_a_signed_logout_request_addressed_to_another_idp_is_refused(deployment, signing_sp, sp_keys):
    """Bindings 3.4.5.2: for a signed message the recipient MUST check that Destination is where it
    was received; a LogoutRequest the SP signed for another IdP must not be acted on here."""
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)
    xml = logout_request_xml(
        issuer=signing_sp.app["entity_id"],
        destination="https://other-idp.example/saml/slo",
        name_id=deployment.agent_email,
    )

    answer = send_logout_request(browser, deployment, redirect_query(xml, key_pem=sp_keys[0]))

    assert answer.status_code == 200 and "Location" not in answer.headers, (
        f"acted on: {answer.status_code} to {answer.headers.get('Location')}"
    )
    assert idp_session_alive(browser, deployment)


def test_a_logout_request_signed_over_http_post_is_answered(deployment, signing_sp, sp_keys):
    """README: logout messages come over HTTP-Redirect or HTTP-POST, the latter with an enveloped signature."""
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)
    key, cert = sp_keys
    xml = logout_request_xml(
        issuer=signing_sp.app["entity_id"],
        destination=f"{deployment.base_url}/saml/slo",
        name_id=deployment.agent_email,
    )
    signed = OneLogin_Saml2_Utils.add_sign(
        xml, key.decode(), cert.decode(), sign_algorithm=RSA_SHA256, digest_algorithm=SHA256
    )

    answer = browser.post(
        f"{deployment.base_url}/saml/slo",
        data={"SAMLRequest": base64.b64encode(signed).decode()},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert answer.status_code == 302, f"{answer.status_code}: {page_text(answer)}"
    assert answer.headers["Location"].startswith(f"{signing_sp.sls_url}?SAMLResponse=")


# ---------------------------------------------------------------------------------------------
# (d) SHA-1: refused unless the app allows it
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


def posted_logout_request_with_sha1_digest(
    deployment: Deployment, sp: ServiceProvider, sp_keys, signature: str
) -> dict[str, str]:
    """A LogoutRequest python3-saml signs (enveloped) with `signature` over a SHA-1 digest."""
    key, cert = sp_keys
    xml = logout_request_xml(
        issuer=sp.app["entity_id"], destination=f"{deployment.base_url}/saml/slo", name_id=deployment.agent_email
    )
    signed = OneLogin_Saml2_Utils.add_sign(
        xml, key.decode(), cert.decode(), sign_algorithm=signature, digest_algorithm=SHA1
    )
    return {"SAMLRequest": base64.b64encode(signed).decode()}


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
    if allowed:
        assert is_signed_out_page(done, deployment), f"{done.status_code} at {done.url}: {page_text(done)}"
    else:
        assert done.status_code == 200 and "signed with SHA-1, which is refused" in page_text(done)
    assert sp_state(browser, sha1_signing_sp.base_url)["signed_in"] is False, "the SP itself signed out"


@pytest.mark.parametrize("signature", [RSA_SHA1, RSA_SHA256], ids=["rsa-sha1", "rsa-sha256-with-sha1-digest"])
@pytest.mark.parametrize("allowed", [False, True], ids=["refused", "allowed"])
def test_a_logout_request_posted_with_any_sha1_is_answered_only_when_the_app_allows_sha1(
    deployment, signing_sp, sp_keys, signature, allowed
):
    """HTTP-POST: an enveloped signature with an RSA-SHA1 SignatureMethod, or RSA-SHA256 over a
    SHA-1 digest."""
    deployment.update_app(signing_sp.app["id"], allow_sha1_signatures=allowed)
    browser = new_browser()
    login_through_sp(browser, signing_sp, deployment)
    fields = posted_logout_request_with_sha1_digest(deployment, signing_sp, sp_keys, signature)

    answer = browser.post(f"{deployment.base_url}/saml/slo", data=fields, allow_redirects=False, timeout=TIMEOUT)

    if allowed:
        assert answer.status_code == 302, f"{answer.status_code}: {page_text(answer)}"
        assert answer.headers["Location"].startswith(f"{signing_sp.sls_url}?SAMLResponse=")
        assert not idp_session_alive(browser, deployment)
    else:
        assert answer.status_code == 200 and "signed with SHA-1, which is refused" in page_text(answer)
        assert idp_session_alive(browser, deployment)
