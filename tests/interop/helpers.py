"""What the interoperability suites share: SAML plumbing, the SP's keys, metadata in and out of the
IdP, and a browser (a `requests.Session`) that walks through an SP-initiated sign-in.

A browser here is what the IdP's pages expect of one: it keeps cookies (the IdP's `idp_csrf` and
`idp_session`, and the SP's own, all on 127.0.0.1), follows redirects, fills in the login form and
posts the auto-post form's fields to its action.
"""

from __future__ import annotations

import base64
import copy
import textwrap
import time
import uuid
import zlib
from dataclasses import dataclass
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html
import pyotp
import requests
import xmlsec
from lxml import etree

from idp.keyring import make_signing_pair
from idp.saml.encryption import encrypt_assertion
from tests.deployment import Deployment, cli
from tests.support import PASSWORD, child_pids, wait_until

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XENC_NS = "http://www.w3.org/2001/04/xmlenc#"
NAMESPACES = {"saml": SAML_NS, "samlp": SAMLP_NS, "md": MD_NS, "ds": DS_NS, "xenc": XENC_NS}

AGENT_EMAIL = "agent@acme.example"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
TRANSIENT_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
PERSISTENT_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
STATUS_INVALID_NAMEID_POLICY = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
STATUS_NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
REFEDS_MFA = "https://refeds.org/profile/mfa"
AUTHN_CONTEXT_CLASS = "saml:Assertion/saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef"
METADATA_CONTENT_TYPE = "application/samlmetadata+xml"
XS_TRUE = ("true", "1")  # xs:boolean: Shibboleth writes ForceAuthn="1", others "true"

# The IdP's encryption_algorithm values, and what each is in XML Encryption.
CIPHERS = {
    "aes256-gcm": "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "aes128-cbc": "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
}
# How assertions may travel: encrypted either way, or in the clear (no encryption_certificate).
ENCRYPTIONS = ["aes256-gcm", "aes128-cbc", None]
ENCRYPTION_IDS = ["aes256-gcm", "aes128-cbc", "clear"]

# What the tamper tests change after signing.
NAME_ID = "//saml:Assertion/saml:Subject/saml:NameID"
FIRST_NAME = "//saml:Attribute[@Name='firstName']/saml:AttributeValue"
# (signed, what to change after signing, its forged value): each signature an SP must check.
TAMPERINGS = [
    ("both", NAME_ID, "boss@acme.example"),
    ("assertion", FIRST_NAME, "Mallory"),
    ("response", NAME_ID, "boss@acme.example"),
]


# --- SAML messages -----------------------------------------------------------------------------


def decoded(saml_message: str) -> etree._Element:
    """An HTTP-POST SAMLResponse (or SAMLRequest), parsed."""
    return etree.fromstring(base64.b64decode(saml_message))


def encoded(root: etree._Element) -> str:
    return base64.b64encode(etree.tostring(root)).decode()


def with_changed_text(saml_response: str, xpath: str, value: str) -> str:
    """The same response with one element's text changed after signing (none if `xpath` is empty);
    lxml keeps everything else byte for byte."""
    root = decoded(saml_response)
    if xpath:
        (element,) = root.xpath(xpath, namespaces=NAMESPACES)
        element.text = value
    return encoded(root)


def encryption_of(response: etree._Element) -> str | None:
    """How the Response's assertion travels: "aes256-gcm" or "aes128-cbc" (the IdP's names for its
    `encryption_algorithm`) in an EncryptedAssertion, or None when it is in the clear."""
    if response.find(f"{{{SAML_NS}}}Assertion") is not None:
        assert response.find(f"{{{SAML_NS}}}EncryptedAssertion") is None
        return None
    (algorithm,) = response.xpath(
        "saml:EncryptedAssertion/xenc:EncryptedData/xenc:EncryptionMethod/@Algorithm", namespaces=NAMESPACES
    )
    (key_transport,) = response.xpath(
        "saml:EncryptedAssertion//xenc:EncryptedKey/xenc:EncryptionMethod/@Algorithm", namespaces=NAMESPACES
    )
    assert key_transport == f"{XENC_NS}rsa-oaep-mgf1p"
    return {cipher: name for name, cipher in CIPHERS.items()}[algorithm]


def signatures(response: etree._Element) -> set[str]:
    """Which of the Response and its clear-text Assertion carry a signature of their own."""
    found = set()
    if response.find(f"{{{DS_NS}}}Signature") is not None:
        found.add("response")
    if response.find(f"{{{SAML_NS}}}Assertion/{{{DS_NS}}}Signature") is not None:
        found.add("assertion")
    return found


def status_codes(response: etree._Element) -> list[str]:
    return response.xpath("samlp:Status//samlp:StatusCode/@Value", namespaces=NAMESPACES)


def decrypted(saml_response: str, sp_key_pem: bytes) -> etree._Element:
    """The Response with its assertion decrypted with the SP's key and put back in the clear."""
    root = decoded(saml_response)
    (wrapper,) = root.findall(f"{{{SAML_NS}}}EncryptedAssertion")
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_key_pem, xmlsec.constants.KeyDataFormatPem))
    context = xmlsec.EncryptionContext(manager)
    assertion = context.decrypt(wrapper.find(f"{{{XENC_NS}}}EncryptedData"))
    # decrypt() put the assertion in the EncryptedData's place, inside the wrapper; unwrap it.
    assertion = etree.fromstring(etree.tostring(assertion))
    assertion.tail = wrapper.tail
    root.replace(wrapper, assertion)
    return etree.fromstring(etree.tostring(root))


def reencrypted(response: etree._Element, sp_certificate_pem: bytes, xpath: str = "", value: str = "") -> str:
    """What anyone holding the SP's public certificate can make: the clear-text assertion of
    `response`, one text changed if `xpath` is given, encrypted again for the SP (AES-256-GCM,
    RSA-OAEP). The assertion's own signature is left as it was."""
    root = copy.deepcopy(response)
    if xpath:
        (element,) = root.xpath(xpath, namespaces=NAMESPACES)
        element.text = value
    encrypt_assertion(root.find(f"{{{SAML_NS}}}Assertion"), sp_certificate_pem)
    return encoded(root)


# --- keys and certificates ---------------------------------------------------------------------


def sp_key_and_certificate(common_name: str) -> tuple[bytes, bytes]:
    """A fresh RSA key and a self-signed certificate for the SP, as mellon_create_metadata makes them."""
    return make_signing_pair(2048, common_name)


def certificate_base64(certificate_pem: bytes | str) -> str:
    """A PEM certificate's base64 DER on one line, as metadata and the IdP's app fields hold it."""
    text = certificate_pem.decode() if isinstance(certificate_pem, bytes) else certificate_pem
    return "".join(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----"))


def pem(certificate_b64: str) -> str:
    body = "\n".join(textwrap.wrap("".join(certificate_b64.split()), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


# --- metadata, both ways -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdpMetadata:
    """The IdP as one application sees it: its metadata, entityID, SSO endpoint and certificate."""

    xml: bytes
    entity_id: str
    sso_url: str  # the HTTP-Redirect SingleSignOnService
    certificate_pem: str


def idp_metadata(idp: Deployment, app: dict | None = None) -> IdpMetadata:
    """The app's own IdP metadata (entityID = the app's issuer), or the global /metadata."""
    path = f"/sso_applications/{app['id']}/metadata" if app else "/metadata"
    response = requests.get(f"{idp.base_url}{path}", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(METADATA_CONTENT_TYPE)
    root = etree.fromstring(response.content)
    if app:
        assert root.get("entityID") == app["issuer"]
    (sso_url,) = root.xpath(
        f"md:IDPSSODescriptor/md:SingleSignOnService[@Binding='{HTTP_REDIRECT}']/@Location", namespaces=NAMESPACES
    )
    # The first signing certificate is the one that signs (an EC one, if any, comes after the RSA ones).
    certificate, *_ = root.xpath(
        "md:IDPSSODescriptor/md:KeyDescriptor[not(@use) or @use='signing']//ds:X509Certificate/text()",
        namespaces=NAMESPACES,
    )
    return IdpMetadata(response.content, root.get("entityID"), sso_url, pem(certificate))


@dataclass(frozen=True)
class Imported:
    app: dict
    created: bool


def import_sp_metadata(idp: Deployment, xml: bytes, *, name: str) -> Imported:
    """POST the SP's own metadata to the brokerage's import, as its admin; the app it made or updated."""
    response = requests.post(
        f"{idp.base_url}/brands/{idp.brokerage}/sso_applications/import",
        params={"name": name},
        data=xml,
        headers={"Authorization": f"Bearer {idp.token(idp.admin_email)}", "Content-Type": METADATA_CONTENT_TYPE},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Imported(body["data"], body["info"]["created"])


def sp_metadata_key_certificates(xml: bytes) -> tuple[list[str], list[str]]:
    """The signing and the encryption certificates the SP's metadata publishes (no `use` = both)."""
    root = etree.fromstring(xml)
    path = "//md:SPSSODescriptor/md:KeyDescriptor[{}]//ds:X509Certificate/text()"

    def found(condition: str) -> list[str]:
        return list(
            dict.fromkeys("".join(text.split()) for text in root.xpath(path.format(condition), namespaces=NAMESPACES))
        )

    return found("not(@use) or @use='signing'"), found("not(@use) or @use='encryption'")


# --- a browser through an SP-initiated sign-in -------------------------------------------------


@dataclass
class AtTheIdp:
    """Where the SP sent the browser: the AuthnRequest as received, and the IdP's page."""

    url: str  # the SSO URL as the browser requested it, query and all
    query: dict[str, str]  # SAMLRequest, RelayState, SigAlg, Signature, URL-decoded
    authn_request: etree._Element  # inflated and parsed
    page: requests.Response  # the login page, or the auto-post page when already signed in


def inflated(saml_request: str) -> etree._Element:
    return etree.fromstring(zlib.decompress(base64.b64decode(saml_request), -15))


def follow_to_idp(browser: requests.Session, url: str, sso_url: str) -> AtTheIdp:
    """Open `url` (an SP page, or the SP's own redirect to the IdP) and follow every redirect."""
    page = browser.get(url, timeout=30)
    hops = [*page.history, page]
    at_sso = [hop for hop in hops if hop.url.startswith(sso_url + "?")]
    assert at_sso, f"never reached {sso_url}: {[hop.url for hop in hops]} -> {page.status_code}: {page_text(page)}"
    query = dict(parse_qsl(urlsplit(at_sso[0].url).query))
    return AtTheIdp(at_sso[0].url, query, inflated(query["SAMLRequest"]), page)


def post_to_idp(browser: requests.Session, action: str, fields: dict[str, str]) -> AtTheIdp:
    """What an SP's auto-post page does with an HTTP-POST AuthnRequest: the browser posts it to the
    IdP and follows the redirects (to the login page when not signed in)."""
    page = browser.post(action, data=fields, timeout=30)
    return AtTheIdp(action, dict(fields), decoded(fields["SAMLRequest"]), page)


def auto_post_page_form(html: str) -> tuple[str, dict[str, str]]:
    """An SP's own auto-post page (an HTTP-POST AuthnRequest): the form's action and fields."""
    form = lxml.html.fromstring(html).forms[0]
    return form.action, {name: value for name, value in form.fields.items() if name and value is not None}


def post_signature(authn_request: etree._Element) -> tuple[str, str, list[str]]:
    """An enveloped XML signature's SignatureMethod, the Reference's URI, and its transforms."""
    (signature,) = authn_request.findall(f"{{{DS_NS}}}Signature")
    method = signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}SignatureMethod").get("Algorithm")
    (reference,) = signature.findall(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    transforms = [t.get("Algorithm") for t in reference.iterfind(f"{{{DS_NS}}}Transforms/{{{DS_NS}}}Transform")]
    return method, reference.get("URI"), transforms


def digest_method(authn_request: etree._Element) -> str:
    """The DigestMethod of an enveloped XML signature's one Reference."""
    (signature,) = authn_request.findall(f"{{{DS_NS}}}Signature")
    return signature.find(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference/{{{DS_NS}}}DigestMethod").get("Algorithm")


def enveloped_signature_verifies(root: etree._Element, certificate_pem: bytes) -> bool:
    """An independent check of an SP's enveloped signature (python-xmlsec, any transform or digest):
    it covers the root by its ID and verifies with the SP's certificate."""
    root = etree.fromstring(etree.tostring(root))
    (signature,) = root.findall(f"{{{DS_NS}}}Signature")
    if post_signature(root)[1] != "#" + root.get("ID"):
        return False
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(certificate_pem, xmlsec.constants.KeyDataFormatCertPem)
    try:
        context.verify(signature)
    except xmlsec.Error:
        return False
    return True


def without(url: str, *names: str) -> str:
    """The URL with some query parameters left out, the others exactly as they were encoded (an
    HTTP-Redirect signature covers the query as sent)."""
    base, _, query = url.partition("?")
    return base + "?" + "&".join(part for part in query.split("&") if part.partition("=")[0] not in names)


def page_text(page: requests.Response) -> str:
    """What a person reads on an HTML page (the IdP's error pages say why a request was refused)."""
    try:
        body = lxml.html.fromstring(page.text).find("body")
    except etree.ParserError:
        return page.text[:1000]
    return " ".join((body.text_content() if body is not None else page.text).split())[:1000]


def is_login_page(idp: Deployment, page: requests.Response) -> bool:
    return page.status_code == 200 and page.url.startswith(f"{idp.base_url}/login?")


def sign_in_at_idp(
    idp: Deployment,
    browser: requests.Session,
    login_page: requests.Response,
    *,
    password: str = PASSWORD,
    email: str | None = None,
) -> requests.Response:
    """Fill in the IdP's login form as the agent (or `email`) and submit it: the page that comes back."""
    assert is_login_page(idp, login_page), f"{login_page.status_code} {login_page.url}: {page_text(login_page)}"
    form = lxml.html.fromstring(login_page.text).forms[0]
    fields = dict(form.fields)
    assert fields["request"], "the login form carries the kept AuthnRequest"
    assert fields["csrf_token"] and fields["csrf_token"] == browser.cookies.get("idp_csrf", domain="127.0.0.1")
    fields.update(email=email or idp.agent_email, password=password)
    # What a browser says of a form posted from the IdP's own page (the IdP checks it with the token).
    headers = {"Origin": idp.base_url, "Sec-Fetch-Site": "same-origin"}
    return browser.post(urljoin(login_page.url, form.action), data=fields, headers=headers, timeout=30)


@dataclass
class PostedForm:
    """The IdP's auto-post page: where it posts, what, and the SAMLResponse parsed."""

    action: str
    fields: dict[str, str]
    response: etree._Element


def auto_post_form(page: requests.Response) -> PostedForm:
    assert page.status_code == 200, f"{page.status_code} {page.url}: {page_text(page)}"
    form = lxml.html.fromstring(page.text).forms[0]
    fields = dict(form.fields)
    assert "SAMLResponse" in fields, page.text[:1000]
    return PostedForm(form.action, fields, decoded(fields["SAMLResponse"]))


@dataclass
class SpInitiated:
    at_idp: AtTheIdp
    form: PostedForm


def sp_initiated_sign_in(
    idp: Deployment, browser: requests.Session, start_url: str, sso_url: str, *, at_idp: AtTheIdp | None = None
) -> SpInitiated:
    """From the SP's page to the IdP's answer: the login page, the credentials, the auto-post form.
    `at_idp`, when given, is where the browser already is (an HTTP-POST request, posted).

    Checks on the way that the answer is for this request: InResponseTo, and the RelayState echoed.
    """
    at_idp = at_idp or follow_to_idp(browser, start_url, sso_url)
    form = auto_post_form(sign_in_at_idp(idp, browser, at_idp.page))
    answered = form.response
    assert answered.get("InResponseTo") == at_idp.authn_request.get("ID")
    assert form.fields.get("RelayState") == at_idp.query.get("RelayState")
    return SpInitiated(at_idp, form)


def visited(page: requests.Response) -> list[str]:
    """Every URL the browser went through to reach this page, and the page's own."""
    return [hop.url for hop in page.history] + [page.url]


def redirected(urls: list[str], prefix: str, param: str) -> tuple[etree._Element, dict[str, str]]:
    """The one SAML message sent over HTTP-Redirect to a URL starting with `prefix`, and its query."""
    (url,) = [url for url in urls if url.startswith(prefix)]
    query = dict(parse_qsl(urlsplit(url).query))
    return inflated(query[param]), query


@dataclass(frozen=True)
class OfficeAgent:
    """Another agent of the office, made for one test; `totp_secret` when MFA is on."""

    email: str
    totp_secret: str | None = None


def new_agent(idp: Deployment, *, with_mfa: bool) -> OfficeAgent:
    """An agent of the office, made by the `idp` command; with MFA set up and verified through the API."""
    email = f"agent-{uuid.uuid4().hex[:8]}@acme.example"
    cli(
        idp.env,
        *("users", "create", email, "--first-name", "Morgan", "--last-name", "Agent", "--password-stdin"),
        *("--brand", idp.office, "--role", "Agent"),
        stdin=PASSWORD + "\n",
    )
    if not with_mfa:
        return OfficeAgent(email)
    setup = idp.call("POST", "/users/self/mfa/setup", as_user=email)
    assert setup.status_code == 200, setup.text
    secret = pyotp.parse_uri(setup.json()["data"]["mfa_url"]).secret
    verify = idp.call("POST", "/users/self/mfa/verify", as_user=email, json={"token": pyotp.TOTP(secret).now()})
    assert verify.status_code == 200 and verify.json()["data"]["mfa_enabled"], verify.text
    return OfficeAgent(email, secret)


def is_totp_page(idp: Deployment, page: requests.Response) -> bool:
    return page.status_code == 200 and page.url == f"{idp.base_url}/login/totp"


def enter_totp(idp: Deployment, browser: requests.Session, page: requests.Response, secret: str) -> requests.Response:
    """The TOTP step, with the code pyotp makes for the next 30-second step (the current one was
    used when MFA was verified; one step of drift is accepted)."""
    assert is_totp_page(idp, page), f"{page.status_code} {page.url}: {page_text(page)}"
    form = lxml.html.fromstring(page.text).forms[0]
    fields = {**dict(form.fields), "code": pyotp.TOTP(secret).at(time.time() + 30)}
    headers = {"Origin": idp.base_url, "Sec-Fetch-Site": "same-origin"}
    return browser.post(urljoin(page.url, form.action), data=fields, headers=headers, timeout=30)


def notice_form(page: requests.Response) -> PostedForm:
    """The page that tells a person why the SP gets a refusal, and whose button posts it."""
    assert page.status_code == 200, f"{page.status_code} {page.url}: {page_text(page)}"
    assert "requires multi-factor authentication" in page_text(page)
    assert "document.forms[0].submit()" not in page.text, "the person reads it before going on"
    form = lxml.html.fromstring(page.text).forms[0]
    fields = dict(form.fields)
    return PostedForm(form.action, fields, decoded(fields["SAMLResponse"]))


def signing_certificates(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    path = "md:IDPSSODescriptor/md:KeyDescriptor[@use='signing']//ds:X509Certificate/text()"
    return ["".join(text.split()) for text in root.xpath(path, namespaces=NAMESPACES)]


def every_worker_has_the_new_keys(idp: Deployment, path: str = "/healthz", *, check=lambda body: True) -> None:
    """Poll until every worker says in `idp keys status` that it uses what the keys folder holds (and
    what `path` serves passes `check`): within seconds, by the same worker processes."""
    workers = child_pids(idp.master_pid)

    def done() -> bool:
        # Requests to both workers: a worker looks at the folder as a request starts.
        served = [requests.get(f"{idp.base_url}{path}", timeout=10).content for _ in range(6)]
        status = cli(idp.env, "keys", "status")
        up_to_date = {worker["worker"] for worker in status["workers"] if worker["up_to_date"]}
        return all(check(body) for body in served) and len(up_to_date) >= len(workers)

    wait_until(done, timeout=15, what="every worker using the new keys")
    assert child_pids(idp.master_pid) == workers, "the workers were restarted"


def every_worker_publishes(idp: Deployment, count: int) -> None:
    every_worker_has_the_new_keys(idp, "/metadata", check=lambda xml: len(signing_certificates(xml)) == count)
