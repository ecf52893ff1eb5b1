"""Single Logout (SAML Core 3.7, Profiles 4.4): LogoutRequests and LogoutResponses, in and out."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass

from lxml import etree

from idp.errors import SamlRequestRefused
from idp.models import SsoApplication
from idp.saml import bindings
from idp.saml.authn_request import parse_instant
from idp.saml.bindings import ReceivedMessage
from idp.saml.names import BINDING_HTTP_POST, SAML, SAMLP, STATUS_SUCCESS
from idp.saml.response import new_id, saml_instant
from idp.saml.xml import parse_untrusted
from idp.saml.xmlsig import Signer
from idp.store import Store


@dataclass(frozen=True)
class LogoutRequest:
    id: str
    issuer: str
    name_id: str | None
    session_indexes: list[str]


@dataclass(frozen=True)
class LogoutResponse:
    in_response_to: str | None
    issuer: str
    success: bool


@dataclass(frozen=True)
class Outgoing:
    """A message to send through the browser: a redirect URL, or a form to post."""

    redirect: str | None = None
    post_action: str | None = None
    post_fields: dict[str, str] | None = None


def _now() -> str:
    return saml_instant(datetime.datetime.now(datetime.UTC))


def _sender(message: ReceivedMessage, root: etree._Element, store: Store, app_id: str | None) -> SsoApplication:
    issuer = (root.findtext(f"{{{SAML}}}Issuer") or "").strip()
    if app_id is not None:
        app = store.app(app_id)
    else:
        candidates = store.apps_by_entity_id(issuer) if issuer else []
        if len(candidates) > 1:
            raise SamlRequestRefused(
                "several applications are registered for this service provider: it must use its own "
                "application's SLO endpoint, from that application's metadata"
            )
        app = candidates[0] if candidates else None
    if app is None or app.entity_id != issuer:
        raise SamlRequestRefused(f"no application is registered for the service provider {issuer or '(none)'}")
    signed = bindings.has_signature(message, root)
    if app.sp_certificates and not signed:
        raise SamlRequestRefused("this service provider must sign its logout messages")
    if signed and not bindings.signature_valid(message, root, app.sp_certificates):
        raise SamlRequestRefused("the logout message's signature does not verify")
    return app


def _check_addressing(root: etree._Element, destination: str) -> None:
    if root.get("Destination") is not None and root.get("Destination") != destination:
        raise SamlRequestRefused("the logout message is addressed to another endpoint (Destination)")


def receive_request(
    message: ReceivedMessage,
    store: Store,
    *,
    destination: str,
    skew: int,
    now: float,
    app_id: str | None = None,
) -> tuple[LogoutRequest, SsoApplication]:
    root = parse_untrusted(message.xml, what="the LogoutRequest")
    if root.tag != f"{{{SAMLP}}}LogoutRequest" or not root.get("ID"):
        raise SamlRequestRefused("the message is not a LogoutRequest")
    app = _sender(message, root, store, app_id)
    _check_addressing(root, destination)
    age = now - parse_instant(root.get("IssueInstant")).timestamp()
    if abs(age) > skew:
        raise SamlRequestRefused("the LogoutRequest is too old, or from a clock too far off")
    if not store.claim_once(f"logout-request:{app.id}:{root.get('ID')}", 2 * skew + 60):
        raise SamlRequestRefused("this LogoutRequest was seen before")
    request = LogoutRequest(
        id=root.get("ID"),
        issuer=app.entity_id or "",
        name_id=root.findtext(f"{{{SAML}}}NameID"),
        session_indexes=[e.text or "" for e in root.findall(f"{{{SAMLP}}}SessionIndex")],
    )
    return request, app


def receive_response(
    message: ReceivedMessage, store: Store, *, destination: str, app_id: str | None = None
) -> tuple[LogoutResponse, SsoApplication]:
    root = parse_untrusted(message.xml, what="the LogoutResponse")
    if root.tag != f"{{{SAMLP}}}LogoutResponse":
        raise SamlRequestRefused("the message is not a LogoutResponse")
    app = _sender(message, root, store, app_id)
    _check_addressing(root, destination)
    code = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    success = code is not None and code.get("Value") == STATUS_SUCCESS
    return LogoutResponse(root.get("InResponseTo"), app.entity_id or "", success), app


def _message(tag: str, issuer: str, destination: str, extra: dict[str, str]) -> etree._Element:
    root = etree.Element(
        f"{{{SAMLP}}}{tag}",
        {"ID": new_id(), "Version": "2.0", "IssueInstant": _now(), "Destination": destination, **extra},
        nsmap={"samlp": SAMLP, "saml": SAML},
    )
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = issuer
    return root


def logout_request(issuer: str, app: SsoApplication, participant: dict) -> etree._Element:
    root = _message("LogoutRequest", issuer, app.slo_url or "", {})
    name_id = etree.SubElement(root, f"{{{SAML}}}NameID", {"Format": participant["name_id_format"]})
    name_id.text = participant["name_id"]
    etree.SubElement(root, f"{{{SAMLP}}}SessionIndex").text = participant["session_index"]
    return root


def logout_response(issuer: str, app: SsoApplication, in_response_to: str) -> etree._Element:
    root = _message("LogoutResponse", issuer, app.slo_url or "", {"InResponseTo": in_response_to})
    status = etree.SubElement(root, f"{{{SAMLP}}}Status")
    etree.SubElement(status, f"{{{SAMLP}}}StatusCode", {"Value": STATUS_SUCCESS})
    return root


def send(root: etree._Element, app: SsoApplication, signer: Signer, *, relay_state: str | None) -> Outgoing:
    """Signed for the app's SLO binding: a signed query for HTTP-Redirect, an enveloped signature for POST."""
    param = "SAMLRequest" if root.tag.endswith("LogoutRequest") else "SAMLResponse"
    if app.slo_binding == BINDING_HTTP_POST:
        signer.sign(root)
        fields = {param: base64.b64encode(etree.tostring(root, xml_declaration=True, encoding="UTF-8")).decode()}
        if relay_state:
            fields["RelayState"] = relay_state
        return Outgoing(post_action=app.slo_url, post_fields=fields)
    xml = etree.tostring(root, encoding="UTF-8")
    return Outgoing(redirect=bindings.redirect_url(app.slo_url or "", param, xml, relay_state, signer.sign_bytes))
