"""Single Logout messages (SAML Core 3.7, Profiles 4.4): what LogoutRequests and LogoutResponses say, and ours."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from idp.models import Participant
from idp.saml.names import SAML, SAMLP, STATUS_SUCCESS
from idp.saml.response import add_status, element, protocol_message, utc


@dataclass(frozen=True)
class LogoutRequest:
    id: str
    name_id: str | None
    session_indexes: list[str]


@dataclass(frozen=True)
class LogoutResponse:
    in_response_to: str | None
    success: bool


def read_request(root: etree._Element) -> LogoutRequest:
    return LogoutRequest(
        id=root.get("ID") or "",
        name_id=root.findtext(f"{{{SAML}}}NameID"),
        session_indexes=[e.text or "" for e in root.findall(f"{{{SAMLP}}}SessionIndex")],
    )


def read_response(root: etree._Element) -> LogoutResponse:
    code = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    return LogoutResponse(root.get("InResponseTo"), code is not None and code.get("Value") == STATUS_SUCCESS)


def logout_request(issuer: str, destination: str, participant: Participant, *, now: float) -> etree._Element:
    root = protocol_message("LogoutRequest", issuer=issuer, destination=destination, issued_at=utc(now))
    element(root, f"{{{SAML}}}NameID", participant.name_id, Format=participant.name_id_format)
    element(root, f"{{{SAMLP}}}SessionIndex", participant.session_index)
    return root


def logout_response(issuer: str, destination: str, in_response_to: str, *, now: float) -> etree._Element:
    root = protocol_message(
        "LogoutResponse", issuer=issuer, destination=destination, issued_at=utc(now), in_response_to=in_response_to
    )
    add_status(root, STATUS_SUCCESS)
    return root
