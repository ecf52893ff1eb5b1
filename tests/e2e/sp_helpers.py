"""Helpers for the SP-initiated SSO and single logout tests: browsers driven with requests, the IdP's
pages read with lxml, python3-saml and pysaml2 service providers, and SAML messages built by hand.

Nothing here uses the IdP's own SAML code: messages are built, signed and read independently.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import shutil
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import lxml.html
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from tests.deployment import Deployment, deploy
from tests.python3_saml_sp import SpOptions, running_sp
from tests.support import PASSWORD, free_port

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
STATUS_INVALID_NAMEID_POLICY = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
STATUS_REQUEST_DENIED = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
STATUS_UNKNOWN_PRINCIPAL = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
STATUS_PARTIAL_LOGOUT = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
STATUS_UNSUPPORTED_BINDING = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding"
STATUS_NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
TIMEOUT = 30


@contextlib.contextmanager
def deployment_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A real gunicorn IdP on the embedded store, stopped when the block ends."""
    with deploy(tmp_path_factory.mktemp("deployment"), None) as running:
        yield running


# ---------------------------------------------------------------------------------------------
# The browser side
# ---------------------------------------------------------------------------------------------


def new_browser() -> requests.Session:
    """One browser: its own cookie jar (for the IdP and the SPs alike), following redirects."""
    return requests.Session()


def first_form(page: requests.Response) -> tuple[str, dict[str, str]]:
    """The page's first form: its absolute action and its fields."""
    forms = lxml.html.fromstring(page.text).forms
    assert forms, f"no form on {page.url} ({page.status_code}): {page.text[:500]}"
    form = forms[0]
    return urljoin(page.url, form.action or page.url), dict(form.fields)


def form_actions(page: requests.Response) -> list[str]:
    """Every form action on a page, as written (empty for a page without forms or without HTML)."""
    if not page.text.strip():
        return []
    try:
        document = lxml.html.fromstring(page.text)
    except etree.ParserError:
        return []
    return [form.get("action") or "" for form in document.xpath("//form")]


def page_text(page: requests.Response) -> str:
    """What a person reads on the page (its <main> element, without the styles)."""
    main = lxml.html.fromstring(page.text).find(".//main") if page.text.strip() else None
    return " ".join(main.text_content().split()) if main is not None else page.text[:300]


def is_login_page(page: requests.Response, idp_base_url: str) -> bool:
    """The IdP's sign-in form, asking for a password."""
    if page.status_code != 200 or not page.url.startswith(f"{idp_base_url}/login"):
        return False
    document = lxml.html.fromstring(page.text)
    return bool(document.xpath("//form[@action='/login']//input[@type='password']"))


def sign_in(browser: requests.Session, login_page: requests.Response, email: str) -> requests.Response:
    """Fill in the IdP's sign-in form as a person would; keeps the hidden csrf_token and request fields."""
    action, fields = first_form(login_page)
    assert fields.get("csrf_token"), "the sign-in form carries a CSRF token"
    fields.update(email=email, password=PASSWORD)
    return browser.post(action, data=fields, timeout=TIMEOUT)


def sign_in_at_idp(browser: requests.Session, deployment: Deployment) -> requests.Response:
    """Sign in at the IdP's own front door (no SP involved); returns the launcher page."""
    page = browser.get(f"{deployment.base_url}/login", timeout=TIMEOUT)
    assert is_login_page(page, deployment.base_url)
    launcher = sign_in(browser, page, deployment.agent_email)
    assert launcher.status_code == 200 and launcher.url == f"{deployment.base_url}/", launcher.text[:500]
    return launcher


def sign_out_in_launcher(browser: requests.Session, deployment: Deployment) -> requests.Response:
    """Click "Sign out" in the launcher (its form, with the CSRF token); follows single logout's redirects."""
    launcher = browser.get(f"{deployment.base_url}/", timeout=TIMEOUT)
    (form,) = [form for form in lxml.html.fromstring(launcher.text).forms if form.action == "/logout"]
    assert form.fields["csrf_token"]
    return browser.post(f"{deployment.base_url}/logout", data=dict(form.fields), timeout=TIMEOUT)


def saml_post_form(page: requests.Response, field: str = "SAMLResponse") -> tuple[str, dict[str, str]]:
    """The auto-post form the IdP answers with: where it goes and what it carries."""
    assert page.status_code == 200, f"{page.url} ({page.status_code}): {page.text[:500]}"
    action, fields = first_form(page)
    assert field in fields, f"the form on {page.url} carries no {field}: {fields}"
    return action, fields


def post_form(browser: requests.Session, page: requests.Response, field: str = "SAMLResponse") -> requests.Response:
    """What a browser running the auto-post script does: post the form's fields to its action."""
    action, fields = saml_post_form(page, field)
    return browser.post(action, data=fields, timeout=TIMEOUT)


def sp_state(browser: requests.Session, sp_url: str) -> dict:
    """Who the python3-saml SP says is signed in, in this browser."""
    response = browser.get(f"{sp_url}/", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def hops(response: requests.Response) -> list[str]:
    """Every URL the browser visited to get this response, in order, the last one included."""
    return [r.url for r in response.history] + [response.url]


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


# ---------------------------------------------------------------------------------------------
# SAML messages, read and built independently of the IdP's code
# ---------------------------------------------------------------------------------------------


def decode_posted(encoded: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(encoded))


def decode_redirected(encoded: str) -> etree._Element:
    """A message from an HTTP-Redirect query parameter (already URL-decoded): base64, then raw DEFLATE."""
    return etree.fromstring(zlib.decompress(base64.b64decode(encoded), -15))


def status_codes(root: etree._Element) -> list[str]:
    """The top-level StatusCode's Value, then any nested ones."""
    return [code.get("Value") for code in root.iter(f"{{{SAMLP}}}StatusCode")]


def saml_instant(moment: datetime.datetime | None = None) -> str:
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return "_" + uuid.uuid4().hex


def authn_request_xml(
    *,
    issuer: str,
    destination: str | None = None,
    acs_url: str | None = None,
    request_id: str | None = None,
    issue_instant: str | None = None,
    name_id_format: str | None = None,
    protocol_binding: str = BINDING_HTTP_POST,
) -> bytes:
    """An AuthnRequest as an SP would write it."""
    attributes = {
        "ID": request_id or new_id(),
        "Version": "2.0",
        "IssueInstant": issue_instant or saml_instant(),
        "ProtocolBinding": protocol_binding,
    }
    if destination:
        attributes["Destination"] = destination
    if acs_url:
        attributes["AssertionConsumerServiceURL"] = acs_url
    root = etree.Element(f"{{{SAMLP}}}AuthnRequest", attributes, nsmap={"samlp": SAMLP, "saml": SAML})
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = issuer
    if name_id_format:
        etree.SubElement(root, f"{{{SAMLP}}}NameIDPolicy", {"Format": name_id_format, "AllowCreate": "true"})
    return etree.tostring(root, encoding="UTF-8")


def logout_request_xml(
    *,
    issuer: str,
    destination: str,
    name_id: str,
    request_id: str | None = None,
    session_index: str | None = None,
    name_id_format: str | None = NAMEID_EMAIL,
    qualifiers: dict[str, str] | None = None,
    not_on_or_after: str | None = None,
) -> bytes:
    """A LogoutRequest as an SP sends it; `qualifiers` are NameQualifier/SPNameQualifier attributes."""
    attributes = {"ID": request_id or new_id(), "Version": "2.0", "IssueInstant": saml_instant()}
    attributes["Destination"] = destination
    if not_on_or_after:
        attributes["NotOnOrAfter"] = not_on_or_after
    root = etree.Element(f"{{{SAMLP}}}LogoutRequest", attributes, nsmap={"samlp": SAMLP, "saml": SAML})
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = issuer
    name = {"Format": name_id_format} if name_id_format else {}
    etree.SubElement(root, f"{{{SAML}}}NameID", {**name, **(qualifiers or {})}).text = name_id
    if session_index is not None:
        etree.SubElement(root, f"{{{SAMLP}}}SessionIndex").text = session_index
    return etree.tostring(root, encoding="UTF-8")


def logout_response_xml(*, issuer: str, destination: str, in_response_to: str, status: str = STATUS_SUCCESS) -> bytes:
    root = etree.Element(
        f"{{{SAMLP}}}LogoutResponse",
        {
            "ID": new_id(),
            "Version": "2.0",
            "IssueInstant": saml_instant(),
            "Destination": destination,
            "InResponseTo": in_response_to,
        },
        nsmap={"samlp": SAMLP, "saml": SAML},
    )
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = issuer
    status_element = etree.SubElement(root, f"{{{SAMLP}}}Status")
    etree.SubElement(status_element, f"{{{SAMLP}}}StatusCode", {"Value": status})
    return etree.tostring(root, encoding="UTF-8")


def deflate_base64(xml: bytes) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml) + compressor.flush()).decode()


def redirect_query(
    xml: bytes, *, param: str = "SAMLRequest", relay_state: str | None = None, key_pem: bytes | None = None
) -> str:
    """An HTTP-Redirect query (Bindings 3.4.4): DEFLATE + base64, and with a key an RSA-SHA256 signature
    over the URL-encoded parameters in their fixed order."""
    query = f"{param}={quote(deflate_base64(xml), safe='')}"
    if relay_state is not None:
        query += f"&RelayState={quote(relay_state, safe='')}"
    if key_pem is not None:
        query += f"&SigAlg={quote(RSA_SHA256, safe='')}"
        key = serialization.load_pem_private_key(key_pem, password=None)
        signature = key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
        query += f"&Signature={quote(base64.b64encode(signature).decode(), safe='')}"
    return query


def replace_param(query: str, name: str, value: str) -> str:
    """The same query with one parameter's (URL-encoded) value replaced, the rest untouched."""
    parts = []
    for part in query.split("&"):
        key, _, _ = part.partition("=")
        parts.append(f"{name}={value}" if key == name else part)
    return "&".join(parts)


# ---------------------------------------------------------------------------------------------
# Service providers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceProvider:
    """A python3-saml SP on loopback, registered at the IdP as an application."""

    base_url: str
    app: dict
    options: SpOptions

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/acs"

    @property
    def sls_url(self) -> str:
        return f"{self.base_url}/sls"


def app_metadata(deployment: Deployment, app_id: str) -> bytes:
    response = requests.get(f"{deployment.base_url}/sso_applications/{app_id}/metadata", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.content


@contextlib.contextmanager
def python3_saml_sp(
    deployment: Deployment, options: SpOptions | None = None, **app_fields
) -> Iterator[ServiceProvider]:
    """Register an app for a python3-saml SP (its ACS, entityID and SLO endpoint), then serve the SP
    from the app's IdP metadata; the SP is stopped when the block ends."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    fields = {
        "acs_url": f"{base_url}/acs",
        "entity_id": f"{base_url}/metadata",
        "slo_url": f"{base_url}/sls",
        "slo_binding": BINDING_HTTP_REDIRECT,
        # python3-saml, strict, wants an AttributeStatement in every assertion.
        "mappings": {"urn:oid:2.5.4.42": "first_name", "urn:oid:2.5.4.4": "last_name"},
        **app_fields,
    }
    app = deployment.create_app(name=f"SP on {port}", **fields)
    options = options or SpOptions()
    with running_sp(app_metadata(deployment, app["id"]), options, port=port) as url:
        yield ServiceProvider(url, app, options)


def sp_login(browser: requests.Session, sp: ServiceProvider, query: str = "") -> requests.Response:
    """Start SP-initiated SSO at the SP; the browser follows the SP's redirect to the IdP."""
    return browser.get(f"{sp.base_url}/login{query}", timeout=TIMEOUT)


def pysaml2_client(
    workdir: Path,
    *,
    entity_id: str,
    acs_url: str,
    idp_metadata: bytes,
    key_pem: bytes,
    cert_pem: bytes,
    slo_url: str | None = None,
):
    """A pysaml2 SP client that signs its AuthnRequests with its own key (xmlsec1 for HTTP-POST); with
    `slo_url`, an HTTP-POST single logout endpoint, and its logout messages signed too."""
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    xmlsec1 = shutil.which("xmlsec1")
    if xmlsec1 is None:
        pytest.skip("xmlsec1 is not installed (Debian package xmlsec1)")
    key_file, cert_file = workdir / "sp.key", workdir / "sp.crt"
    key_file.write_bytes(key_pem)
    cert_file.write_bytes(cert_pem)
    endpoints: dict[str, list[tuple[str, str]]] = {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]}
    if slo_url:
        endpoints["single_logout_service"] = [(slo_url, BINDING_HTTP_POST)]
    config = SPConfig()
    config.load(
        {
            "entityid": entity_id,
            "key_file": str(key_file),
            "cert_file": str(cert_file),
            "xmlsec_binary": xmlsec1,
            "metadata": {"inline": [idp_metadata.decode()]},
            "service": {
                "sp": {
                    "endpoints": endpoints,
                    "authn_requests_signed": True,
                    "logout_requests_signed": True,
                    "logout_responses_signed": True,
                    # pysaml2 signs with RSA-SHA1 and SHA-1 digests unless told, which the IdP refuses.
                    "signing_algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                    "digest_algorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
                    "want_assertions_or_response_signed": True,
                    "allow_unsolicited": False,
                }
            },
        }
    )
    return Saml2Client(config)


def idp_entity_id(metadata: bytes) -> str:
    return etree.fromstring(metadata).get("entityID")
