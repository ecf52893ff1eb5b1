"""SP-initiated SSO against the Procfile's gunicorn, judged by independent SAML code.

python3-saml (strict, InResponseTo checked) is a real SP on loopback; pysaml2 builds and signs
requests as a second, independent SP; the refusals use requests written by hand.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import lxml.html
import pyotp
import pytest
import requests
from lxml import etree
from saml2 import BINDING_HTTP_POST as PYSAML2_POST
from saml2 import BINDING_HTTP_REDIRECT as PYSAML2_REDIRECT
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from idp.keyring import make_signing_pair
from tests.deployment import Deployment, cli
from tests.e2e.sp_helpers import (
    DS,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    SAML,
    SAMLP,
    STATUS_INVALID_NAMEID_POLICY,
    STATUS_NO_PASSIVE,
    STATUS_REQUESTER,
    STATUS_RESPONDER,
    STATUS_SUCCESS,
    STATUS_UNSUPPORTED_BINDING,
    TIMEOUT,
    ServiceProvider,
    app_metadata,
    authn_request_xml,
    decode_posted,
    decode_redirected,
    deployment_in,
    first_form,
    form_actions,
    hops,
    idp_entity_id,
    is_login_page,
    new_browser,
    page_text,
    post_form,
    pysaml2_client,
    python3_saml_sp,
    query_of,
    redirect_query,
    replace_param,
    saml_instant,
    saml_post_form,
    sign_in,
    sign_in_at_idp,
    sp_login,
    sp_state,
)
from tests.independent import python3_saml_accepts
from tests.python3_saml_sp import SpOptions
from tests.support import PASSWORD

PYSAML2_ACS = "http://127.0.0.1:9/pysaml2/acs"  # never contacted: the tests read what the IdP answers
HAND_ACS = "http://127.0.0.1:9/hand/acs"
EVIL_ACS = "http://127.0.0.1:9/evil/acs"
MAPPINGS = {"urn:oid:2.5.4.42": "first_name"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    with deployment_in(tmp_path_factory) as running:
        yield running


@pytest.fixture
def sp(deployment) -> Iterator[ServiceProvider]:
    with python3_saml_sp(deployment) as running:
        yield running


def refused(page: requests.Response, reason: str) -> str:
    """A refusal page for a person: HTML answering 200 (Bindings 3.4.6 and 3.5.6: SAML failures are never
    HTTP error statuses), giving `reason`, and no form that posts anywhere."""
    assert page.status_code == 200, f"{page.status_code}: {page_text(page)}"
    assert page.headers["Content-Type"].startswith("text/html")
    assert form_actions(page) == []
    text = page_text(page)
    assert reason in text, text
    return text


def answered_with(page: requests.Response, *codes: str, acs: str = HAND_ACS) -> etree._Element:
    """A signed status Response without an assertion, auto-posted to the registered ACS."""
    action, fields = saml_post_form(page)
    assert action == acs
    response = decode_posted(fields["SAMLResponse"])
    assert [code.get("Value") for code in response.iter(f"{{{SAMLP}}}StatusCode")] == list(codes)
    assert response.find(f"{{{SAML}}}Assertion") is None
    assert response.find(f"{{{DS}}}Signature") is not None
    return response


def request_id_sent(response: requests.Response) -> str:
    """The ID of the AuthnRequest the SP redirected the browser with."""
    (sso_hop,) = [url for url in hops(response) if "SAMLRequest=" in url]
    return decode_redirected(query_of(sso_hop)["SAMLRequest"]).get("ID")


def signed_in_at_sp(browser: requests.Session, sp: ServiceProvider, deployment: Deployment) -> None:
    """A complete SP-initiated login, with the password."""
    page = sp_login(browser, sp)
    assert is_login_page(page, deployment.base_url)
    landed = post_form(browser, sign_in(browser, page, deployment.agent_email))
    assert landed.status_code == 200 and landed.json()["signed_in"], landed.text


# ---------------------------------------------------------------------------------------------
# 1. python3-saml as the SP, strict, with its InResponseTo check on
# ---------------------------------------------------------------------------------------------


def test_sp_initiated_login_signs_the_agent_in_at_a_strict_sp(deployment, sp):
    browser = new_browser()
    page = sp_login(browser, sp)
    assert any(url.startswith(f"{deployment.base_url}/sso_applications/{sp.app['id']}/sso?") for url in hops(page))
    assert is_login_page(page, deployment.base_url)
    assert first_form(page)[1]["request"], "the login form keeps the pending request"

    answer = sign_in(browser, page, deployment.agent_email)
    action, fields = saml_post_form(answer)
    assert action == sp.acs_url
    response = decode_posted(fields["SAMLResponse"])
    assert response.get("InResponseTo") == request_id_sent(page)
    assert response.get("Destination") == sp.acs_url

    landed = post_form(browser, answer)
    assert landed.url == f"{sp.base_url}/"
    state = landed.json()
    assert state["errors"] == []
    assert state["signed_in"] is True
    assert state["name_id"] == deployment.agent_email
    assert state["name_id_format"] == NAMEID_EMAIL


def test_a_second_login_in_the_same_browser_does_not_ask_for_the_password(deployment, sp):
    browser = new_browser()
    signed_in_at_sp(browser, sp, deployment)

    again = sp_login(browser, sp)
    assert not is_login_page(again, deployment.base_url)
    action, fields = saml_post_form(again)
    assert action == sp.acs_url
    assert decode_posted(fields["SAMLResponse"]).get("InResponseTo") == request_id_sent(again)
    landed = post_form(browser, again)
    assert landed.json()["signed_in"] is True and landed.json()["errors"] == []


def test_another_browser_is_asked_for_the_password(deployment, sp):
    signed_in_at_sp(new_browser(), sp, deployment)

    assert is_login_page(sp_login(new_browser(), sp), deployment.base_url)


def test_force_authn_asks_for_the_password_again(deployment, sp):
    browser = new_browser()
    signed_in_at_sp(browser, sp, deployment)

    forced = sp_login(browser, sp, "?force=1")
    sent = decode_redirected(query_of(next(u for u in hops(forced) if "SAMLRequest=" in u))["SAMLRequest"])
    assert sent.get("ForceAuthn") == "true"
    assert is_login_page(forced, deployment.base_url), (
        f"ForceAuthn did not ask for the password: {forced.status_code} at {forced.url}: {page_text(forced)}"
    )
    landed = post_form(browser, sign_in(browser, forced, deployment.agent_email))
    assert landed.json()["signed_in"] is True and landed.json()["errors"] == []


def test_force_authn_cannot_be_skipped_by_resuming_with_the_old_session(deployment, sp):
    browser = new_browser()
    signed_in_at_sp(browser, sp, deployment)
    forced = sp_login(browser, sp, "?force=1")
    (to_login,) = [url for url in hops(forced) if url.startswith(f"{deployment.base_url}/login?request=")]

    skipped = browser.get(
        f"{deployment.base_url}/saml/resume", params={"request": query_of(to_login)["request"]}, timeout=TIMEOUT
    )

    refused(skipped, "start again at the application")
    assert "SAMLResponse" not in forced.text


def test_a_kept_request_is_answered_only_once(deployment, sp):
    browser = new_browser()
    page = sp_login(browser, sp)
    key = first_form(page)[1]["request"]
    saml_post_form(sign_in(browser, page, deployment.agent_email))

    again = browser.get(f"{deployment.base_url}/saml/resume", params={"request": key}, timeout=TIMEOUT)

    refused(again, "answered already")


def test_is_passive_without_an_idp_session_answers_no_passive(deployment, sp):
    browser = new_browser()
    page = sp_login(browser, sp, "?passive=1")
    assert not is_login_page(page, deployment.base_url)

    action, fields = saml_post_form(page)
    assert action == sp.acs_url
    response = decode_posted(fields["SAMLResponse"])
    assert response.tag == f"{{{SAMLP}}}Response"
    assert [code.get("Value") for code in response.iter(f"{{{SAMLP}}}StatusCode")] == [
        STATUS_RESPONDER,
        STATUS_NO_PASSIVE,
    ]
    assert response.get("InResponseTo") == request_id_sent(page)
    assert response.find(f"{{{SAML}}}Assertion") is None

    rejected = post_form(browser, page)
    assert rejected.status_code == 400 and "NoPassive" in rejected.json()["error"]
    assert sp_state(browser, sp.base_url)["signed_in"] is False


def test_is_passive_with_an_idp_session_signs_in_without_a_prompt(deployment, sp):
    browser = new_browser()
    signed_in_at_sp(browser, sp, deployment)

    page = sp_login(browser, sp, "?passive=1")
    response = decode_posted(saml_post_form(page)[1]["SAMLResponse"])
    assert response.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode").get("Value") == STATUS_SUCCESS
    assert post_form(browser, page).json()["signed_in"] is True


def test_a_python3_saml_sp_that_signs_its_requests_is_let_in_when_signatures_are_required(deployment):
    key, cert = make_signing_pair(2048, "python3-saml sp")
    options = SpOptions(sign_requests=True, key_pem=key.decode(), cert_pem=cert.decode())
    with python3_saml_sp(
        deployment, options, sp_certificates=[cert.decode()], require_signed_requests=True
    ) as signing_sp:
        browser = new_browser()
        page = sp_login(browser, signing_sp)
        assert "Signature" in query_of(next(u for u in hops(page) if "SAMLRequest=" in u))
        assert is_login_page(page, deployment.base_url)
        landed = post_form(browser, sign_in(browser, page, deployment.agent_email))
        assert landed.json()["signed_in"] is True and landed.json()["errors"] == []


def agent_with_mfa_enabled_after_signing_in(deployment: Deployment) -> requests.Session:
    """A new agent signs in at the IdP (password only), then turns MFA on through the API."""
    email = f"mfa-{uuid.uuid4().hex[:8]}@acme.example"
    cli(
        deployment.env,
        *("users", "create", email, "--first-name", "Mo", "--last-name", "Mfa", "--password-stdin"),
        *("--brand", deployment.office, "--role", "Agent"),
        stdin=PASSWORD + "\n",
    )
    browser = new_browser()
    page = browser.get(f"{deployment.base_url}/login", timeout=TIMEOUT)
    assert sign_in(browser, page, email).url == f"{deployment.base_url}/"
    setup = deployment.call("POST", "/users/self/mfa/setup", as_user=email)
    assert setup.status_code == 200, setup.text
    secret = pyotp.parse_uri(setup.json()["data"]["mfa_url"]).secret
    verify = deployment.call("POST", "/users/self/mfa/verify", as_user=email, json={"token": pyotp.TOTP(secret).now()})
    assert verify.status_code == 200 and verify.json()["data"]["mfa_enabled"] is True, verify.text
    return browser


def test_a_session_from_before_mfa_was_enabled_does_not_answer_the_sp(deployment, sp):
    """Such a session is stepped up first: the TOTP step, without the password again."""
    browser = agent_with_mfa_enabled_after_signing_in(deployment)

    page = sp_login(browser, sp)

    assert "SAMLResponse" not in page.text, f"an assertion without MFA was issued (went {hops(page)})"
    assert page.url == f"{deployment.base_url}/login/totp" and "6-digit code" in page_text(page)


def test_a_session_from_before_mfa_was_enabled_cannot_resume_a_kept_request(deployment, sp):
    browser = agent_with_mfa_enabled_after_signing_in(deployment)
    page = sp_login(new_browser(), sp)  # any browser may start the request and read its key
    key = query_of(page.url)["request"]

    resumed = browser.get(f"{deployment.base_url}/saml/resume", params={"request": key}, timeout=TIMEOUT)

    assert "SAMLResponse" not in resumed.text, "/saml/resume answered with a session that lacks MFA"


# ---------------------------------------------------------------------------------------------
# 2. Signed requests, made by pysaml2
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sp_keys() -> tuple[bytes, bytes]:
    return make_signing_pair(2048, "pysaml2 sp")


@pytest.fixture(scope="module")
def other_keys() -> tuple[bytes, bytes]:
    return make_signing_pair(2048, "someone else")


@dataclass
class Pysaml2Sp:
    app: dict
    idp_entity_id: str
    sso_url: str
    entity_id: str
    metadata: bytes

    def client(self, workdir: Path, keys: tuple[bytes, bytes]):
        workdir.mkdir(exist_ok=True)
        key, cert = keys
        return pysaml2_client(
            workdir,
            entity_id=self.entity_id,
            acs_url=PYSAML2_ACS,
            idp_metadata=self.metadata,
            key_pem=key,
            cert_pem=cert,
        )


def pysaml2_app(deployment: Deployment, sp_keys: tuple[bytes, bytes], **fields) -> Pysaml2Sp:
    """An app that registers the pysaml2 SP's certificate (as PEM) and requires signed requests."""
    entity_id = f"https://pysaml2-{uuid.uuid4().hex[:8]}.sp.example/metadata"
    app = deployment.create_app(
        name="pysaml2 SP",
        acs_url=PYSAML2_ACS,
        entity_id=entity_id,
        sp_certificates=[sp_keys[1].decode()],
        require_signed_requests=True,
        **fields,
    )
    assert app["require_signed_requests"] is True and len(app["sp_certificates"]) == 1
    metadata = app_metadata(deployment, app["id"])
    sso_url = f"{deployment.base_url}/sso_applications/{app['id']}/sso"
    return Pysaml2Sp(app, idp_entity_id(metadata), sso_url, entity_id, metadata)


@pytest.fixture
def signed_app(deployment, sp_keys) -> Pysaml2Sp:
    app = pysaml2_app(deployment, sp_keys)
    assert app.app["allow_sha1_signatures"] is False
    return app


@pytest.fixture
def sha1_app(deployment, sp_keys) -> Pysaml2Sp:
    """The same, for an SP whose admin allowed SHA-1 signatures."""
    app = pysaml2_app(deployment, sp_keys, allow_sha1_signatures=True)
    assert app.app["allow_sha1_signatures"] is True
    return app


def test_the_metadata_of_an_app_that_requires_signed_requests_says_so(signed_app):
    """Metadata 2.4.3: WantAuthnRequestsSigned tells SPs configured from metadata that they must sign."""
    descriptor = etree.fromstring(signed_app.metadata).find("{urn:oasis:names:tc:SAML:2.0:metadata}IDPSSODescriptor")

    assert descriptor.get("WantAuthnRequestsSigned") == "true"


def pysaml2_redirect(client, app: Pysaml2Sp, *, sign: bool, sigalg: str = SIG_RSA_SHA256) -> str:
    _, info = client.prepare_for_authenticate(
        entityid=app.idp_entity_id, relay_state="/after", binding=PYSAML2_REDIRECT, sign=sign, sigalg=sigalg
    )
    location = dict(info["headers"])["Location"]
    assert location.startswith(app.sso_url + "?"), "pysaml2 found the per-app SSO endpoint in the metadata"
    return location


def pysaml2_post(
    client, app: Pysaml2Sp, *, sign: bool, sigalg: str = SIG_RSA_SHA256, digest_alg: str = DIGEST_SHA256
) -> tuple[str, dict[str, str]]:
    _, info = client.prepare_for_authenticate(
        entityid=app.idp_entity_id,
        relay_state="/after",
        binding=PYSAML2_POST,
        sign=sign,
        sigalg=sigalg,
        digest_alg=digest_alg,
    )
    form = lxml.html.fromstring(info["data"]).forms[0]
    assert form.action == app.sso_url
    return form.action, dict(form.fields)


def proceeds_to_sign_in(response: requests.Response) -> None:
    assert response.status_code == 303, f"{response.status_code}: {page_text(response)}"
    assert response.headers["Location"].startswith("/login?request=")


def test_a_signed_redirect_request_proceeds_to_sign_in(signed_app, sp_keys, tmp_path):
    location = pysaml2_redirect(signed_app.client(tmp_path / "sp", sp_keys), signed_app, sign=True)
    assert {"SigAlg", "Signature"} <= query_of(location).keys()

    proceeds_to_sign_in(requests.get(location, allow_redirects=False, timeout=TIMEOUT))


def test_a_signed_post_request_proceeds_to_sign_in(signed_app, sp_keys, tmp_path):
    action, fields = pysaml2_post(signed_app.client(tmp_path / "sp", sp_keys), signed_app, sign=True)
    assert etree.fromstring(base64.b64decode(fields["SAMLRequest"])).find(f"{{{DS}}}Signature") is not None

    proceeds_to_sign_in(requests.post(action, data=fields, allow_redirects=False, timeout=TIMEOUT))


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_an_unsigned_request_is_refused_when_signatures_are_required(signed_app, sp_keys, tmp_path, binding):
    client = signed_app.client(tmp_path / "sp", sp_keys)
    if binding == "redirect":
        page = requests.get(pysaml2_redirect(client, signed_app, sign=False), timeout=TIMEOUT)
    else:
        action, fields = pysaml2_post(client, signed_app, sign=False)
        page = requests.post(action, data=fields, timeout=TIMEOUT)

    refused(page, "must sign")


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_a_request_signed_by_another_key_is_refused(signed_app, other_keys, tmp_path, binding):
    impostor = signed_app.client(tmp_path / "impostor", other_keys)
    if binding == "redirect":
        page = requests.get(pysaml2_redirect(impostor, signed_app, sign=True), timeout=TIMEOUT)
    else:
        action, fields = pysaml2_post(impostor, signed_app, sign=True)
        page = requests.post(action, data=fields, timeout=TIMEOUT)

    refused(page, "signature does not verify")


@pytest.mark.parametrize("changed", ["SAMLRequest", "RelayState", "SigAlg"])
def test_a_redirect_request_changed_after_signing_is_refused(signed_app, sp_keys, tmp_path, changed):
    client = signed_app.client(tmp_path / "sp", sp_keys)
    location = pysaml2_redirect(client, signed_app, sign=True)
    base, _, query = location.partition("?")
    other_request = query_of(pysaml2_redirect(client, signed_app, sign=False))["SAMLRequest"]
    replacement = {
        "SAMLRequest": quote(other_request, safe=""),
        "RelayState": quote("/somewhere-else", safe=""),
        "SigAlg": quote("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", safe=""),
    }[changed]
    tampered = f"{base}?{replace_param(query, changed, replacement)}"
    assert tampered != location

    refused(requests.get(tampered, timeout=TIMEOUT), "signature does not verify")


def test_a_post_request_changed_after_signing_is_refused(signed_app, sp_keys, tmp_path):
    action, fields = pysaml2_post(signed_app.client(tmp_path / "sp", sp_keys), signed_app, sign=True)
    root = etree.fromstring(base64.b64decode(fields["SAMLRequest"]))
    root.set("ForceAuthn", "true")
    fields["SAMLRequest"] = base64.b64encode(etree.tostring(root)).decode()

    refused(requests.post(action, data=fields, timeout=TIMEOUT), "signature does not verify")


# pysaml2 signs with RSA-SHA1 and SHA-1 digests unless told otherwise; a digest alone can be SHA-1 too.
SHA1_SIGNATURES = [
    pytest.param("redirect", SIG_RSA_SHA1, None, id="redirect-rsa-sha1"),
    pytest.param("post", SIG_RSA_SHA1, DIGEST_SHA1, id="post-rsa-sha1"),
    pytest.param("post", SIG_RSA_SHA256, DIGEST_SHA1, id="post-rsa-sha256-with-sha1-digest"),
]


def pysaml2_send(client, app: Pysaml2Sp, binding: str, sigalg: str, digest_alg: str | None) -> requests.Response:
    """A signed request made by pysaml2 with these algorithms, sent by a browser to the app's SSO endpoint."""
    if binding == "redirect":
        location = pysaml2_redirect(client, app, sign=True, sigalg=sigalg)
        assert query_of(location)["SigAlg"] == sigalg
        return requests.get(location, allow_redirects=False, timeout=TIMEOUT)
    action, fields = pysaml2_post(client, app, sign=True, sigalg=sigalg, digest_alg=digest_alg)
    request = etree.fromstring(base64.b64decode(fields["SAMLRequest"]))
    signed_info = request.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo")
    assert signed_info.find(f"{{{DS}}}SignatureMethod").get("Algorithm") == sigalg
    assert signed_info.find(f"{{{DS}}}Reference/{{{DS}}}DigestMethod").get("Algorithm") == digest_alg
    return requests.post(action, data=fields, allow_redirects=False, timeout=TIMEOUT)


@pytest.mark.parametrize(("binding", "sigalg", "digest_alg"), SHA1_SIGNATURES)
def test_a_sha1_signed_request_is_refused_unless_the_app_allows_sha1(
    signed_app, sp_keys, tmp_path, binding, sigalg, digest_alg
):
    page = pysaml2_send(signed_app.client(tmp_path / "sp", sp_keys), signed_app, binding, sigalg, digest_alg)

    text = refused(page, "signed with SHA-1, which is refused")
    assert "allow_sha1_signatures" in text, "the refusal says how an admin allows it"


@pytest.mark.parametrize(("binding", "sigalg", "digest_alg"), SHA1_SIGNATURES)
def test_a_sha1_signed_request_proceeds_to_sign_in_when_the_app_allows_sha1(
    sha1_app, sp_keys, tmp_path, binding, sigalg, digest_alg
):
    page = pysaml2_send(sha1_app.client(tmp_path / "sp", sp_keys), sha1_app, binding, sigalg, digest_alg)

    proceeds_to_sign_in(page)


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_a_sha1_signed_request_by_another_key_is_refused_even_when_sha1_is_allowed(
    sha1_app, other_keys, tmp_path, binding
):
    impostor = sha1_app.client(tmp_path / "impostor", other_keys)

    refused(pysaml2_send(impostor, sha1_app, binding, SIG_RSA_SHA1, DIGEST_SHA1), "signature does not verify")


def test_a_python3_saml_sp_signing_with_sha1_is_refused_unless_the_app_allows_it(deployment):
    """python3-saml asked for RSA-SHA1: the IdP stops it with a page that says why; once the app
    allows SHA-1, the same SP signs the agent in, strict."""
    key, cert = make_signing_pair(2048, "python3-saml sp")
    options = SpOptions(
        sign_requests=True,
        key_pem=key.decode(),
        cert_pem=cert.decode(),
        signature_algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        digest_algorithm="http://www.w3.org/2000/09/xmldsig#sha1",
    )
    fields = {"sp_certificates": [cert.decode()], "require_signed_requests": True}
    with python3_saml_sp(deployment, options, **fields) as sha1_sp:
        browser = new_browser()
        page = sp_login(browser, sha1_sp)
        assert query_of(next(u for u in hops(page) if "SAMLRequest=" in u))["SigAlg"].endswith("#rsa-sha1")
        refused(page, "signed with SHA-1, which is refused")

        deployment.update_app(sha1_sp.app["id"], allow_sha1_signatures=True)
        page = sp_login(browser, sha1_sp)
        assert is_login_page(page, deployment.base_url)
        landed = post_form(browser, sign_in(browser, page, deployment.agent_email))
        assert landed.json()["signed_in"] is True and landed.json()["errors"] == []


def test_a_signed_request_addressed_to_another_idp_is_refused(signed_app, sp_keys, tmp_path):
    """Bindings 3.4.5.2 and Core 3.2.1: the recipient MUST check Destination; a request signed for
    another IdP and forwarded here must be discarded."""
    client = signed_app.client(tmp_path / "sp", sp_keys)
    _, request = client.create_authn_request(destination="https://other-idp.example/sso", sign=False)
    info = client.apply_binding(
        PYSAML2_REDIRECT, str(request), destination=signed_app.sso_url, sign=True, sigalg=SIG_RSA_SHA256
    )
    page = requests.get(dict(info["headers"])["Location"], allow_redirects=False, timeout=TIMEOUT)

    # Its sender is known and its signature good, so it is answered, with a status and no assertion.
    answered_with(page, STATUS_REQUESTER, acs=PYSAML2_ACS)


# ---------------------------------------------------------------------------------------------
# 3. Refusals, with requests written by hand
# ---------------------------------------------------------------------------------------------


@dataclass
class HandApp:
    app: dict
    entity_id: str
    sso_url: str


@pytest.fixture
def hand_app(deployment) -> HandApp:
    """An app that accepts unsigned requests; name_id_format null (any format may be asked for)."""
    entity_id = f"https://hand-{uuid.uuid4().hex[:8]}.sp.example/metadata"
    app = deployment.create_app(name="By hand", acs_url=HAND_ACS, entity_id=entity_id, mappings=MAPPINGS)
    return HandApp(app, entity_id, f"{deployment.base_url}/sso_applications/{app['id']}/sso")


def send(sso_url: str, xml: bytes, binding: str, browser: requests.Session | None = None) -> requests.Response:
    http = browser or requests
    if binding == "redirect":
        return http.get(f"{sso_url}?{redirect_query(xml)}", allow_redirects=False, timeout=TIMEOUT)
    fields = {"SAMLRequest": base64.b64encode(xml).decode()}
    return http.post(sso_url, data=fields, allow_redirects=False, timeout=TIMEOUT)


def test_a_hand_written_request_is_accepted(hand_app):
    """The control for the refusals below: the same kind of request, nothing wrong with it."""
    proceeds_to_sign_in(send(hand_app.sso_url, authn_request_xml(issuer=hand_app.entity_id), "redirect"))


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_an_unregistered_acs_url_is_refused_and_never_posted_to(deployment, hand_app, binding):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)  # with a session, the IdP would answer at once
    xml = authn_request_xml(issuer=hand_app.entity_id, acs_url=EVIL_ACS)

    page = send(hand_app.sso_url, xml, binding, browser)

    refused(page, "not registered")
    assert EVIL_ACS not in page.text


def test_a_registered_acs_url_is_answered_there(deployment, hand_app):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)

    page = send(hand_app.sso_url, authn_request_xml(issuer=hand_app.entity_id, acs_url=HAND_ACS), "redirect", browser)

    assert saml_post_form(page)[0] == HAND_ACS


def test_an_unknown_issuer_is_refused(deployment):
    xml = authn_request_xml(issuer="https://unknown.sp.example/metadata")

    refused(send(f"{deployment.base_url}/saml/sso", xml, "redirect"), "no application is registered")


def test_an_issuer_that_is_not_the_app_of_the_endpoint_is_refused(deployment, hand_app):
    other = deployment.create_app(
        name="Other", acs_url="http://127.0.0.1:9/other/acs", entity_id=f"https://other-{uuid.uuid4().hex}.example/sp"
    )
    xml = authn_request_xml(issuer=other["entity_id"])

    refused(send(hand_app.sso_url, xml, "redirect"), "no application is registered")


@pytest.mark.parametrize("binding", ["redirect", "post"])
def test_a_replayed_request_is_refused(hand_app, binding):
    xml = authn_request_xml(issuer=hand_app.entity_id)

    proceeds_to_sign_in(send(hand_app.sso_url, xml, binding))
    answered = answered_with(send(hand_app.sso_url, xml, binding), STATUS_REQUESTER)
    assert "seen before" in answered.findtext(f".//{{{SAMLP}}}StatusMessage")


@pytest.mark.parametrize("seconds", [-181 - 60, 181 + 60], ids=["too-old", "from-the-future"])
def test_a_request_outside_the_clock_skew_is_refused(hand_app, seconds):
    instant = saml_instant(datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds))
    xml = authn_request_xml(issuer=hand_app.entity_id, issue_instant=instant)

    answered = answered_with(send(hand_app.sso_url, xml, "redirect"), STATUS_REQUESTER)
    assert "too old" in answered.findtext(f".//{{{SAMLP}}}StatusMessage")


def test_a_request_inside_the_clock_skew_is_accepted(hand_app):
    instant = saml_instant(datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=120))

    proceeds_to_sign_in(
        send(hand_app.sso_url, authn_request_xml(issuer=hand_app.entity_id, issue_instant=instant), "redirect")
    )


def test_a_request_for_a_response_over_another_binding_is_refused(hand_app):
    artifact = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
    xml = authn_request_xml(issuer=hand_app.entity_id, protocol_binding=artifact)

    answered_with(send(hand_app.sso_url, xml, "redirect"), STATUS_REQUESTER, STATUS_UNSUPPORTED_BINDING)


def test_an_overlong_relay_state_is_refused(hand_app):
    query = redirect_query(authn_request_xml(issuer=hand_app.entity_id), relay_state="x" * 1100)

    page = requests.get(f"{hand_app.sso_url}?{query}", timeout=TIMEOUT)
    answered_with(page, STATUS_REQUESTER)
    assert "RelayState" not in saml_post_form(page)[1], "an overlong RelayState is not echoed"


@pytest.mark.parametrize("binding", ["redirect", "post"])
@pytest.mark.parametrize("attack", ["external-entity", "entity-expansion"])
def test_a_doctype_is_refused_without_leaking_file_contents(hand_app, tmp_path, binding, attack):
    secret = f"TOP-SECRET-{uuid.uuid4().hex}"
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(secret)
    if attack == "external-entity":
        doctype = f'<!DOCTYPE samlp:AuthnRequest [<!ENTITY xxe SYSTEM "{secret_file.as_uri()}">]>'
    else:
        doctype = (
            '<!DOCTYPE samlp:AuthnRequest [<!ENTITY a "'
            + "x" * 64
            + '">'
            + "".join(f'<!ENTITY {n} "{("&" + p + ";") * 16}">' for p, n in zip("abcdefg", "bcdefgh", strict=True))
            + "]>"
        )
    marker = "https://marker.invalid/issuer"
    xml = authn_request_xml(issuer=marker, acs_url=HAND_ACS).replace(
        marker.encode(), hand_app.entity_id.encode() + (b"&xxe;" if attack == "external-entity" else b"&h;")
    )
    xml = b'<?xml version="1.0"?>\n' + doctype.encode() + b"\n" + xml

    page = send(hand_app.sso_url, xml, binding)

    refused(page, "DOCTYPE")
    assert secret not in page.text


def test_a_name_id_format_the_app_does_not_allow_gets_invalid_name_id_policy(deployment):
    entity_id = f"https://email-only-{uuid.uuid4().hex[:8]}.sp.example/metadata"
    app = deployment.create_app(
        name="Email only", acs_url=HAND_ACS, entity_id=entity_id, name_id_format=NAMEID_EMAIL, mappings=MAPPINGS
    )
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    xml = authn_request_xml(issuer=entity_id, name_id_format=NAMEID_PERSISTENT, request_id="_asks-persistent")

    page = send(f"{deployment.base_url}/sso_applications/{app['id']}/sso", xml, "redirect", browser)

    action, fields = saml_post_form(page)
    assert action == HAND_ACS
    response = decode_posted(fields["SAMLResponse"])
    assert [code.get("Value") for code in response.iter(f"{{{SAMLP}}}StatusCode")] == [
        STATUS_REQUESTER,
        STATUS_INVALID_NAMEID_POLICY,
    ]
    assert response.get("InResponseTo") == "_asks-persistent"
    assert response.find(f"{{{SAML}}}Assertion") is None


def test_an_unknown_name_id_format_gets_invalid_name_id_policy(deployment, hand_app):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    kerberos = "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos"

    page = send(
        hand_app.sso_url, authn_request_xml(issuer=hand_app.entity_id, name_id_format=kerberos), "redirect", browser
    )

    statuses = [
        c.get("Value") for c in decode_posted(saml_post_form(page)[1]["SAMLResponse"]).iter(f"{{{SAMLP}}}StatusCode")
    ]
    assert STATUS_INVALID_NAMEID_POLICY in statuses


def test_a_name_id_format_the_app_allows_is_honoured(deployment, hand_app):
    browser = new_browser()
    sign_in_at_idp(browser, deployment)
    xml = authn_request_xml(issuer=hand_app.entity_id, name_id_format=NAMEID_PERSISTENT)

    page = send(hand_app.sso_url, xml, "redirect", browser)

    action, fields = saml_post_form(page)
    metadata = app_metadata(deployment, hand_app.app["id"])
    certificate = etree.fromstring(metadata).findtext(f".//{{{DS}}}X509Certificate")
    login = python3_saml_accepts(
        fields["SAMLResponse"],
        idp_entity_id=idp_entity_id(metadata),
        idp_certificate_b64=certificate,
        sp_entity_id=hand_app.entity_id,
        acs_url=action,
        want_assertions_signed=True,
        want_messages_signed=True,
    )
    assert login.name_id_format == NAMEID_PERSISTENT
    assert login.name_id and login.name_id != deployment.agent_email


# ---------------------------------------------------------------------------------------------
# 4. CSRF on the sign-in form
# ---------------------------------------------------------------------------------------------


def login_form_fields(browser: requests.Session, deployment: Deployment) -> dict[str, str]:
    page = browser.get(f"{deployment.base_url}/login", timeout=TIMEOUT)
    fields = first_form(page)[1]
    fields.update(email=deployment.agent_email, password="correct horse battery staple")
    return fields


def no_session_set(response: requests.Response, browser: requests.Session | None = None) -> bool:
    set_cookie = response.headers.get("Set-Cookie", "")
    return "idp_session" not in set_cookie and (browser is None or "idp_session" not in browser.cookies)


def test_sign_in_without_the_csrf_cookie_is_forbidden(deployment):
    fields = login_form_fields(new_browser(), deployment)

    cookieless = requests.post(f"{deployment.base_url}/login", data=fields, allow_redirects=False, timeout=TIMEOUT)

    assert cookieless.status_code == 403
    assert no_session_set(cookieless)


@pytest.mark.parametrize("token", ["wrong-token", ""], ids=["wrong", "missing"])
def test_sign_in_with_a_wrong_csrf_token_is_forbidden(deployment, token):
    browser = new_browser()
    fields = login_form_fields(browser, deployment)
    assert "idp_csrf" in browser.cookies
    fields["csrf_token"] = token

    response = browser.post(f"{deployment.base_url}/login", data=fields, allow_redirects=False, timeout=TIMEOUT)

    assert response.status_code == 403
    assert no_session_set(response, browser)


def test_sign_in_with_the_csrf_cookie_and_token_starts_a_session(deployment):
    browser = new_browser()
    fields = login_form_fields(browser, deployment)

    response = browser.post(f"{deployment.base_url}/login", data=fields, allow_redirects=False, timeout=TIMEOUT)

    assert response.status_code == 303
    assert not no_session_set(response, browser)


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["cross-site-origin", "cross-site-fetch"],
)
def test_sign_in_posted_from_another_site_is_forbidden(deployment, headers):
    browser = new_browser()
    fields = login_form_fields(browser, deployment)

    response = browser.post(
        f"{deployment.base_url}/login", data=fields, headers=headers, allow_redirects=False, timeout=TIMEOUT
    )

    assert response.status_code == 403
    assert no_session_set(response, browser)
