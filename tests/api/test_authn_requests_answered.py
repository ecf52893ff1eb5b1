"""How an AuthnRequest is answered: the authentication context asked for (and the TOTP step to meet
it), `require_mfa`, every refusal of a trusted request as a signed status Response at its ACS, the
IdP pages for untrusted ones (HTTP 200), and the Issuer of the endpoint the SP addressed.

Requests are written by python3-saml and pysaml2; answers are judged by python3-saml (strict),
pysaml2 (which turns each status into its own exception) and `xmlsec1 --verify`.
"""

from __future__ import annotations

import base64
import datetime
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import saml2.response
from lxml import etree
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from saml2 import BINDING_HTTP_POST
from saml2.client import Saml2Client
from saml2.config import SPConfig

from tests.api.helpers import NS, Apps, Org, page_text, parse_page, saml_app
from tests.api.mfa_helpers import Mfa, MfaUser, next_code
from tests.conftest import BASE_URL
from tests.hostile.front import SAME_ORIGIN, sign_in
from tests.hostile.saml_inputs import redirect_value
from tests.independent import python3_saml_accepts, xmlsec1_verifies

SP_ENTITY_ID = "https://sp.example.com/saml/metadata"
ACS_URL = "https://sp.example.com/saml/acs"
GLOBAL_ENTITY_ID = f"{BASE_URL}/metadata"
SSO = "/saml/sso"
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
MFA = "https://refeds.org/profile/mfa"
KERBEROS = "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos"
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"
MAPPINGS = {"givenName": "first_name"}


@pytest.fixture
def mfa(client, api) -> Mfa:
    return Mfa(client, api)


@pytest.fixture
def idp_certificate(app) -> tuple[bytes, str]:
    keyring = app.extensions["idp"].keyring
    return keyring.certificate_pem, keyring.certificate_base64


@pytest.fixture
def sp_app(apps: Apps, org: Org) -> dict:
    return apps.created(org.admin, org.brand, saml_app(entity_id=SP_ENTITY_ID, acs_url=ACS_URL, mappings=MAPPINGS))


def python3_saml_request(
    *, destination: str = f"{BASE_URL}{SSO}", context: list[str] | bool = False, comparison: str = "exact", **kwargs
) -> bytes:
    """An AuthnRequest as python3-saml writes it, with its RequestedAuthnContext setting."""
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {"entityId": SP_ENTITY_ID, "assertionConsumerService": {"url": ACS_URL}},
            "idp": {"entityId": GLOBAL_ENTITY_ID, "singleSignOnService": {"url": destination}},
            "security": {"requestedAuthnContext": context, "requestedAuthnContextComparison": comparison},
        },
        sp_validation_only=True,
    )
    return OneLogin_Saml2_Authn_Request(settings, **kwargs).get_xml().encode()


def send(client, xml: bytes, endpoint: str = SSO, relay_state: str = "https://sp.example.com/after"):
    return client.get(f"{endpoint}?SAMLRequest={redirect_value(xml)}&RelayState={quote(relay_state)}")


def request_key(response) -> str:
    assert response.status_code == 303, page_text(response.get_data(as_text=True))
    return parse_qs(urlsplit(response.headers["Location"]).query)["request"][0]


def posted(response) -> tuple[str, str, str | None]:
    """The form a page posts to the SP: its action, SAMLResponse and RelayState."""
    assert response.status_code == 200, page_text(response.get_data(as_text=True))
    (form,) = parse_page(response.get_data(as_text=True)).forms
    return form.action or "", form.hidden["SAMLResponse"], form.hidden.get("RelayState")


def statuses(encoded: str) -> list[str]:
    root = etree.fromstring(base64.b64decode(encoded))
    return [code.get("Value").removeprefix(STATUS) for code in root.iterfind(".//samlp:StatusCode", NS)]


def assert_refused(response, idp_certificate, *codes: str, issuer: str = GLOBAL_ENTITY_ID) -> str:
    """A signed Response with these status codes and no assertion, posted to the ACS with the RelayState,
    as python3-saml and xmlsec1 read it."""
    action, encoded, relay_state = posted(response)
    assert action == ACS_URL
    assert relay_state == "https://sp.example.com/after"
    xml = base64.b64decode(encoded)
    root = etree.fromstring(xml)
    assert statuses(encoded) == list(codes)
    assert root.find("saml:Assertion", NS) is None and root.find("saml:EncryptedAssertion", NS) is None
    assert root.findtext("saml:Issuer", namespaces=NS) == issuer
    assert xmlsec1_verifies(xml, idp_certificate[0], "Response")
    with pytest.raises(OneLogin_Saml2_ValidationError, match=f"was not Success, was {codes[0]}"):
        accepted(encoded, idp_certificate, issuer=issuer)
    return encoded


def accepted(encoded: str, idp_certificate, *, issuer: str = GLOBAL_ENTITY_ID):
    return python3_saml_accepts(
        encoded,
        idp_entity_id=issuer,
        idp_certificate_b64=idp_certificate[1],
        sp_entity_id=SP_ENTITY_ID,
        acs_url=ACS_URL,
        want_assertions_signed=True,
        want_messages_signed=True,
    )


def asserted_class(encoded: str) -> str:
    root = etree.fromstring(base64.b64decode(encoded))
    path = "saml:Assertion/saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef"
    return root.findtext(path, namespaces=NS)


def totp(client, code: str):
    form = parse_page(client.get("/login/totp").get_data(as_text=True)).forms[0]
    return client.post("/login/totp", data={**form.hidden, "code": code}, headers=SAME_ORIGIN)


def follow(client, response):
    assert response.status_code in (302, 303), page_text(response.get_data(as_text=True))
    return client.get(response.headers["Location"])


def pysaml2_sp(tmp_path, client, metadata_path: str = "/metadata") -> Saml2Client:
    config = SPConfig()
    config.load(
        {
            "entityid": SP_ENTITY_ID,
            "metadata": {"inline": [client.get(metadata_path).get_data(as_text=True)]},
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)]},
                    "want_response_signed": True,
                    "allow_unsolicited": True,
                }
            },
            "xmlsec_binary": "/usr/bin/xmlsec1",
        }
    )
    return Saml2Client(config)


# ---------------------------------------------------------------------------------------------
# Authentication context and the TOTP step
# ---------------------------------------------------------------------------------------------


def test_an_sp_asking_for_mfa_gets_the_totp_step_then_an_mfa_assertion(client, org, sp_app, mfa, idp_certificate):
    agent = mfa.enable(org.agent)
    key = request_key(send(client, python3_saml_request(context=[MFA])))

    to_totp = sign_in(client, agent.user, request_key=key)
    assert to_totp.headers["Location"] == "/login/totp"
    answer = follow(client, totp(client, next_code(agent.secret)))

    _, encoded, _ = posted(answer)
    assert accepted(encoded, idp_certificate).name_id == agent.user.email
    assert asserted_class(encoded) == MFA


def test_a_password_only_session_of_a_user_with_mfa_steps_up_with_the_totp_step_alone(
    client, org, sp_app, mfa, idp_certificate
):
    sign_in(client, org.agent)  # a password-only session; MFA is turned on afterwards
    agent = mfa.enable(org.agent)

    step = send(client, python3_saml_request(context=[MFA], comparison="minimum"))
    assert step.status_code == 303 and step.headers["Location"] == "/login/totp", "no password asked again"
    resumed = totp(client, next_code(agent.secret))
    assert resumed.headers["Location"].startswith("/saml/resume?request=")
    _, encoded, _ = posted(follow(client, resumed))

    accepted(encoded, idp_certificate)
    assert asserted_class(encoded) == MFA


def test_exact_password_protected_transport_is_answered_so_after_mfa(client, org, sp_app, mfa, idp_certificate):
    agent = mfa.enable(org.agent)
    sign_in(client, agent.user)
    totp(client, next_code(agent.secret))

    _, encoded, _ = posted(send(client, python3_saml_request(context=[PPT])))

    accepted(encoded, idp_certificate)
    assert asserted_class(encoded) == PPT


def test_minimum_password_protected_transport_after_mfa_asserts_mfa(client, org, sp_app, mfa, idp_certificate):
    agent = mfa.enable(org.agent)
    sign_in(client, agent.user)
    totp(client, next_code(agent.secret))

    _, encoded, _ = posted(send(client, python3_saml_request(context=[PPT], comparison="minimum")))

    assert asserted_class(encoded) == MFA


@pytest.mark.parametrize(
    ("context", "comparison"),
    [([MFA], "exact"), ([MFA], "minimum"), ([PPT], "better"), ([KERBEROS], "exact"), ([KERBEROS], "maximum")],
)
def test_what_a_password_sign_in_without_mfa_cannot_meet_gets_no_authn_context(
    client, org, sp_app, idp_certificate, context, comparison
):
    sign_in(client, org.agent)

    answer = send(client, python3_saml_request(context=context, comparison=comparison))

    assert_refused(answer, idp_certificate, "Requester", "NoAuthnContext")


def test_a_user_without_mfa_is_told_before_the_sp_gets_no_authn_context(client, org, sp_app, idp_certificate):
    sign_in(client, org.agent)

    answer = send(client, python3_saml_request(context=[MFA]))

    text = page_text(answer.get_data(as_text=True))
    assert "requires multi-factor authentication" in text and "authenticator app" in text
    assert "document.forms[0].submit()" not in answer.get_data(as_text=True), "the person reads it first"
    assert_refused(answer, idp_certificate, "Requester", "NoAuthnContext")


def test_an_unknown_class_is_never_met_even_with_mfa(client, org, sp_app, mfa, idp_certificate):
    agent = mfa.enable(org.agent)
    sign_in(client, agent.user)
    totp(client, next_code(agent.secret))

    answer = send(client, python3_saml_request(context=[KERBEROS], comparison="minimum"))

    assert_refused(answer, idp_certificate, "Requester", "NoAuthnContext")


def test_is_passive_when_the_totp_step_is_needed_gets_no_passive(client, org, sp_app, mfa, idp_certificate):
    sign_in(client, org.agent)
    mfa.enable(org.agent)

    answer = send(client, python3_saml_request(context=[MFA], is_passive=True))

    assert_refused(answer, idp_certificate, "Responder", "NoPassive")
    assert "document.forms[0].submit()" in answer.get_data(as_text=True), "no prompt: the answer posts itself"


def test_pysaml2_reads_no_authn_context_from_a_maximum_request(client, org, sp_app, idp_certificate, tmp_path):
    from saml2.saml import AuthnContextClassRef
    from saml2.samlp import RequestedAuthnContext

    sp = pysaml2_sp(tmp_path, client)
    context = RequestedAuthnContext(authn_context_class_ref=[AuthnContextClassRef(text=KERBEROS)], comparison="maximum")
    request_id, request = sp.create_authn_request(f"{BASE_URL}{SSO}", requested_authn_context=context)
    sign_in(client, org.agent)

    answer = send(client, str(request).encode())

    encoded = assert_refused(answer, idp_certificate, "Requester", "NoAuthnContext")
    with pytest.raises(saml2.response.StatusNoAuthnContext):
        sp.parse_authn_request_response(encoded, BINDING_HTTP_POST, outstanding={request_id: "/"})


# ---------------------------------------------------------------------------------------------
# require_mfa
# ---------------------------------------------------------------------------------------------


def test_require_mfa_asks_an_sp_initiated_sign_in_for_the_totp_step(client, apps, org, sp_app, mfa, idp_certificate):
    apps.update(org.admin, org.brand, sp_app["id"], {"require_mfa": True})
    sign_in(client, org.agent)
    agent = mfa.enable(org.agent)

    step = send(client, python3_saml_request())
    assert step.headers["Location"] == "/login/totp"
    _, encoded, _ = posted(follow(client, totp(client, next_code(agent.secret))))

    assert asserted_class(encoded) == MFA


def test_require_mfa_without_mfa_gets_the_clear_page_and_no_authn_context(client, apps, org, sp_app, idp_certificate):
    apps.update(org.admin, org.brand, sp_app["id"], {"require_mfa": True})
    sign_in(client, org.agent)

    answer = send(client, python3_saml_request())

    assert "requires multi-factor authentication" in page_text(answer.get_data(as_text=True))
    assert_refused(answer, idp_certificate, "Requester", "NoAuthnContext")


def open_url_for(client, apps, org, app_id: str, headers) -> str:
    """The app's open_url, as a path on this client's host (so its cookies carry on to the TOTP step)."""
    listed = client.get(Apps.path(org.brand), headers=headers).json["data"]
    url = urlsplit(next(item["open_url"] for item in listed if item["id"] == app_id))
    return f"{url.path}?{url.query}"


def test_require_mfa_on_a_launch_without_mfa_is_a_clear_page(client, apps, org, sp_app):
    apps.update(org.admin, org.brand, sp_app["id"], {"require_mfa": True})
    open_url = open_url_for(client, apps, org, sp_app["id"], apps.headers(org.agent))

    page = client.get(open_url)

    assert page.status_code == 403 and page.mimetype == "text/html"
    assert "SAMLResponse" not in page.get_data(as_text=True)
    text = page_text(page.get_data(as_text=True))
    assert "requires multi-factor authentication" in text and "security settings" in text


def test_a_launch_link_without_mfa_for_a_user_with_mfa_gets_the_totp_step(
    client, apps, org, sp_app, mfa, idp_certificate
):
    apps.update(org.admin, org.brand, sp_app["id"], {"require_mfa": True})
    old_url = open_url_for(client, apps, org, sp_app["id"], mfa.pair(org.agent).headers)  # before MFA
    agent: MfaUser = mfa.enable(org.agent)

    step = client.get(old_url)
    assert step.status_code == 303 and step.headers["Location"] == "/login/totp"
    assert "SAMLResponse" not in step.get_data(as_text=True)
    _, encoded, _ = posted(follow(client, totp(client, next_code(agent.secret))))

    assert asserted_class(encoded) == MFA
    assert accepted(encoded, idp_certificate, issuer=sp_app["issuer"]).name_id == agent.user.email


def test_a_kept_launch_cannot_be_finished_without_the_totp_step(client, apps, org, sp_app, mfa):
    old_url = open_url_for(client, apps, org, sp_app["id"], mfa.pair(org.agent).headers)
    mfa.enable(org.agent)
    step = client.get(old_url)
    resume = parse_qs(urlsplit(store_destination(client, step)).query)["launch"][0]

    skipped = client.get(f"/sso_applications/open/resume?launch={resume}")

    assert skipped.status_code == 400 and "SAMLResponse" not in skipped.get_data(as_text=True)


def store_destination(client, step) -> str:
    """Where the TOTP step would lead: read from the half-login the step keeps in the store."""
    from idp.signin.front_door import HALF_LOGIN

    cookie = client.get_cookie("idp_half_login")
    assert step.headers["Location"] == "/login/totp" and cookie is not None
    return client.application.extensions["idp"].store.transient(HALF_LOGIN, cookie.value)["destination"]


# ---------------------------------------------------------------------------------------------
# Refusals answered in SAML
# ---------------------------------------------------------------------------------------------


def test_a_user_who_may_not_open_the_app_gets_request_denied(client, make, sp_app, idp_certificate):
    outsider = make.user(brand=make.brand())
    sign_in(client, outsider)

    assert_refused(send(client, python3_saml_request()), idp_certificate, "Responder", "RequestDenied")


def test_a_deactivated_account_gets_request_denied(client, store, org, sp_app, idp_certificate):
    import dataclasses

    sign_in(client, org.agent)
    store.save_user(dataclasses.replace(store.user(org.agent.id), is_active=False))

    assert_refused(send(client, python3_saml_request()), idp_certificate, "Responder", "RequestDenied")


def test_a_response_binding_other_than_http_post_gets_unsupported_binding(client, sp_app, idp_certificate):
    xml = python3_saml_request().replace(
        b"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", b"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
    )
    assert_refused(send(client, xml), idp_certificate, "Requester", "UnsupportedBinding")


@pytest.mark.parametrize(("version", "sub_status"), [("1.1", "RequestVersionTooLow"), ("3.0", "RequestVersionTooHigh")])
def test_another_saml_version_gets_version_mismatch(client, sp_app, idp_certificate, tmp_path, version, sub_status):
    sp = pysaml2_sp(tmp_path, client)
    request_id, request = sp.create_authn_request(f"{BASE_URL}{SSO}")
    xml = str(request).encode().replace(b'Version="2.0"', f'Version="{version}"'.encode(), 1)

    encoded = assert_refused(send(client, xml), idp_certificate, "VersionMismatch", sub_status)
    with pytest.raises(getattr(saml2.response, f"Status{sub_status}")):
        sp.parse_authn_request_response(encoded, BINDING_HTTP_POST, outstanding={request_id: "/"})


def subject_request(name_id: str) -> bytes:
    root = etree.fromstring(python3_saml_request())
    subject = etree.Element(f"{{{NS['saml']}}}Subject")
    etree.SubElement(subject, f"{{{NS['saml']}}}NameID").text = name_id
    root.insert(1, subject)  # after the Issuer
    return etree.tostring(root)


def test_a_subject_naming_the_signed_in_user_is_answered(client, org, sp_app, idp_certificate):
    sign_in(client, org.agent)

    _, encoded, _ = posted(send(client, subject_request(org.agent.email)))

    assert accepted(encoded, idp_certificate).name_id == org.agent.email


def test_a_subject_naming_another_principal_gets_unknown_principal(client, org, sp_app, idp_certificate, tmp_path):
    sign_in(client, org.agent)

    encoded = assert_refused(
        send(client, subject_request("someone.else@example.com")), idp_certificate, "Requester", "UnknownPrincipal"
    )
    with pytest.raises(saml2.response.StatusUnknownPrincipal):
        pysaml2_sp(tmp_path, client).parse_authn_request_response(encoded, BINDING_HTTP_POST)


def test_a_replayed_request_gets_requester(client, org, sp_app, idp_certificate):
    sign_in(client, org.agent)
    xml = python3_saml_request()
    posted(send(client, xml))

    encoded = assert_refused(send(client, xml), idp_certificate, "Requester")
    message = etree.fromstring(base64.b64decode(encoded)).findtext(".//samlp:StatusMessage", namespaces=NS)
    assert "seen before" in message


def test_a_stale_request_gets_requester(client, sp_app, idp_certificate):
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = etree.fromstring(python3_saml_request())
    root.set("IssueInstant", old)

    assert_refused(send(client, etree.tostring(root)), idp_certificate, "Requester")


def test_no_passive_is_answered_without_a_session(client, sp_app, idp_certificate):
    assert_refused(send(client, python3_saml_request(is_passive=True)), idp_certificate, "Responder", "NoPassive")


@pytest.mark.parametrize(
    "xml",
    [
        pytest.param(python3_saml_request().replace(SP_ENTITY_ID.encode(), b"https://nobody.example/sp"), id="issuer"),
        pytest.param(python3_saml_request().replace(ACS_URL.encode(), b"https://evil.example/acs"), id="acs"),
        pytest.param(b"<samlp:AuthnRequest", id="malformed"),
    ],
)
def test_an_untrusted_request_ends_on_an_idp_page_answered_200(client, sp_app, xml):
    page = send(client, xml)

    assert page.status_code == 200 and page.mimetype == "text/html"
    assert parse_page(page.get_data(as_text=True)).forms == []
    assert "SAMLResponse" not in page.get_data(as_text=True)


def test_the_json_api_keeps_its_status_codes(client):
    assert client.get("/brands/none/sso_applications").status_code == 401


# ---------------------------------------------------------------------------------------------
# The Issuer follows the endpoint the SP addressed
# ---------------------------------------------------------------------------------------------


def test_answers_at_saml_sso_carry_the_metadata_entity_id(client, org, sp_app, idp_certificate):
    metadata = etree.fromstring(client.get("/metadata").get_data())
    sign_in(client, org.agent)

    _, encoded, _ = posted(send(client, python3_saml_request()))

    assert metadata.get("entityID") == GLOBAL_ENTITY_ID != sp_app["issuer"]
    accepted(encoded, idp_certificate, issuer=GLOBAL_ENTITY_ID)


def test_answers_at_the_app_endpoint_carry_the_app_issuer(client, org, sp_app, idp_certificate):
    endpoint = f"/sso_applications/{sp_app['id']}/sso"
    metadata = etree.fromstring(client.get(f"/sso_applications/{sp_app['id']}/metadata").get_data())
    sign_in(client, org.agent)

    _, encoded, _ = posted(send(client, python3_saml_request(destination=f"{BASE_URL}{endpoint}"), endpoint))

    assert metadata.get("entityID") == sp_app["issuer"]
    accepted(encoded, idp_certificate, issuer=sp_app["issuer"])


def test_refusals_at_the_app_endpoint_carry_the_app_issuer(client, sp_app, idp_certificate):
    endpoint = f"/sso_applications/{sp_app['id']}/sso"
    answer = send(client, python3_saml_request(destination=f"{BASE_URL}{endpoint}", is_passive=True), endpoint)

    assert_refused(answer, idp_certificate, "Responder", "NoPassive", issuer=sp_app["issuer"])


def test_an_app_whose_issuer_is_the_global_entity_id_is_the_same_at_both(client, apps, org, sp_app, idp_certificate):
    apps.update(org.admin, org.brand, sp_app["id"], {"issuer": GLOBAL_ENTITY_ID})
    endpoint = f"/sso_applications/{sp_app['id']}/sso"
    sign_in(client, org.agent)

    _, at_global, _ = posted(send(client, python3_saml_request()))
    _, at_app, _ = posted(send(client, python3_saml_request(destination=f"{BASE_URL}{endpoint}"), endpoint))

    accepted(at_global, idp_certificate, issuer=GLOBAL_ENTITY_ID)
    accepted(at_app, idp_certificate, issuer=GLOBAL_ENTITY_ID)
