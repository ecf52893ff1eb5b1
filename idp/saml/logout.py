"""Single Logout messages (SAML Core 3.7, Profiles 4.4): what LogoutRequests and LogoutResponses say, and ours."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lxml import etree

from idp.errors import SamlRequestRefused
from idp.models import Participant
from idp.saml.names import LOGOUT_REASON_USER, NAMEID_UNSPECIFIED, SAML, SAMLP, STATUS_SUCCESS
from idp.saml.response import add_status, element, protocol_message, saml_instant, utc


@dataclass(frozen=True)
class NameId:
    """A NameID as a message gives it; Format and qualifiers absent are None."""

    value: str
    format: str | None = None
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None


@dataclass(frozen=True)
class LogoutRequest:
    id: str
    name_id: NameId | None  # None: no plain NameID (a BaseID, an EncryptedID, or nothing)
    session_indexes: list[str]
    not_on_or_after: datetime.datetime | None = None


@dataclass(frozen=True)
class LogoutResponse:
    in_response_to: str | None
    success: bool


def _instant(value: str | None) -> datetime.datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SamlRequestRefused("the LogoutRequest's NotOnOrAfter is not a dateTime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def read_request(root: etree._Element) -> LogoutRequest:
    found = root.find(f"{{{SAML}}}NameID")
    name_id = None
    if found is not None:
        name_id = NameId(
            value=(found.text or "").strip(),
            format=found.get("Format"),
            name_qualifier=found.get("NameQualifier"),
            sp_name_qualifier=found.get("SPNameQualifier"),
        )
    return LogoutRequest(
        id=root.get("ID") or "",
        name_id=name_id,
        session_indexes=[(e.text or "").strip() for e in root.findall(f"{{{SAMLP}}}SessionIndex")],
        not_on_or_after=_instant(root.get("NotOnOrAfter")),
    )


def read_response(root: etree._Element) -> LogoutResponse:
    code = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    return LogoutResponse(root.get("InResponseTo"), code is not None and code.get("Value") == STATUS_SUCCESS)


def names_participant(asked: NameId, participant: Participant, *, idp_entity_id: str, sp_entity_id: str) -> bool:
    """Whether a LogoutRequest's NameID is the one asserted to this participant (Core 3.3.4: value,
    Format and qualifiers alike).

    An absent Format is `unspecified` (Core 2.2.2). An absent qualifier is the one the context gives
    (Core 8.3.7): NameQualifier the IdP the message is addressed to, SPNameQualifier the SP that
    sends it; so an SP may leave out qualifiers that say only that, but not name others.
    """

    def qualified(name_qualifier: str | None, sp_name_qualifier: str | None) -> tuple[str, str]:
        return name_qualifier or idp_entity_id, sp_name_qualifier or sp_entity_id

    return (
        asked.value == participant.name_id
        and (asked.format or NAMEID_UNSPECIFIED) == (participant.name_id_format or NAMEID_UNSPECIFIED)
        and qualified(asked.name_qualifier, asked.sp_name_qualifier)
        == qualified(participant.name_qualifier, participant.sp_name_qualifier)
    )


def logout_request(
    issuer: str, destination: str, participant: Participant, *, now: float, lifetime: int
) -> etree._Element:
    """Ours to an SP: the NameID exactly as it was asserted to it, its SessionIndex, and an expiry
    (NotOnOrAfter, `lifetime` seconds on) after which the SP should not act on it."""
    root = protocol_message("LogoutRequest", issuer=issuer, destination=destination, issued_at=utc(now))
    root.set("NotOnOrAfter", saml_instant(utc(now + lifetime)))
    root.set("Reason", LOGOUT_REASON_USER)
    element(
        root,
        f"{{{SAML}}}NameID",
        participant.name_id,
        Format=participant.name_id_format,
        NameQualifier=participant.name_qualifier,
        SPNameQualifier=participant.sp_name_qualifier,
    )
    element(root, f"{{{SAMLP}}}SessionIndex", participant.session_index)
    return root


def logout_response(
    issuer: str,
    destination: str,
    in_response_to: str,
    *,
    now: float,
    status: str = STATUS_SUCCESS,
    sub_status: str | None = None,
    message: str | None = None,
) -> etree._Element:
    """Our answer to an SP's LogoutRequest: Success (with PartialLogout when another SP of the session
    could not be signed out), or the refusal and, for the SP's logs, a StatusMessage saying why."""
    root = protocol_message(
        "LogoutResponse", issuer=issuer, destination=destination, issued_at=utc(now), in_response_to=in_response_to
    )
    add_status(root, status, sub_status)
    status_element = root.find(f"{{{SAMLP}}}Status")
    if message and status_element is not None:
        element(status_element, f"{{{SAMLP}}}StatusMessage", message)
    return root
