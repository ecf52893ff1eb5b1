"""Single logout messages: whether a LogoutRequest names the login we asserted (Core 3.3.4, 8.3.7),
and our own LogoutRequests and LogoutResponses, judged by the SAML protocol schema and xmlsec1."""

from __future__ import annotations

import time

import pytest
from lxml import etree

from idp.keyring import KeyRing
from idp.models import Participant
from idp.saml import logout
from idp.saml.names import (
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    NAMEID_UNSPECIFIED,
    SAML,
    SAMLP,
    STATUS_PARTIAL_LOGOUT,
    STATUS_SUCCESS,
)
from idp.saml.outbound import serialize
from idp.saml.xmlsig import Signer
from tests.independent import protocol_schema_errors, xmlsec1_verifies

IDP = "https://idp.example.com/metadata"
SP = "https://sp.example.com/metadata"
PERSISTENT = Participant("app-1", "abc123", NAMEID_PERSISTENT, "_index", name_qualifier=IDP, sp_name_qualifier=SP)
EMAIL = Participant("app-1", "ann@acme.example", NAMEID_EMAIL, "_index")
UNSPECIFIED = Participant("app-1", "ann", NAMEID_UNSPECIFIED, "_index")


@pytest.fixture(scope="module")
def ring(keys_dir) -> KeyRing:
    return KeyRing.load(keys_dir)


@pytest.fixture(scope="module")
def signer(ring) -> Signer:
    return Signer(ring.signing_key_pem, ring.certificate_pem)


def names(asked: logout.NameId, participant: Participant) -> bool:
    return logout.names_participant(asked, participant, idp_entity_id=IDP, sp_entity_id=SP)


@pytest.mark.parametrize(
    ("asked", "participant"),
    [
        (logout.NameId("abc123", NAMEID_PERSISTENT, IDP, SP), PERSISTENT),
        (logout.NameId("abc123", NAMEID_PERSISTENT), PERSISTENT),  # qualifiers from the context
        (logout.NameId("ann@acme.example", NAMEID_EMAIL), EMAIL),
        (logout.NameId("ann@acme.example", NAMEID_EMAIL, IDP, SP), EMAIL),
        (logout.NameId("ann"), UNSPECIFIED),  # no Format: unspecified
    ],
    ids=["exact", "qualifiers-left-out", "email", "email-with-context-qualifiers", "unspecified"],
)
def test_the_asserted_name_id_is_matched(asked, participant) -> None:
    assert names(asked, participant)


@pytest.mark.parametrize(
    ("asked", "participant"),
    [
        (logout.NameId("abc124", NAMEID_PERSISTENT, IDP, SP), PERSISTENT),
        (logout.NameId("abc123", NAMEID_EMAIL, IDP, SP), PERSISTENT),
        (logout.NameId("abc123", None, IDP, SP), PERSISTENT),
        (logout.NameId("abc123", NAMEID_PERSISTENT, "https://other-idp.example", SP), PERSISTENT),
        (logout.NameId("abc123", NAMEID_PERSISTENT, IDP, "https://affiliation.example"), PERSISTENT),
        (logout.NameId("ann@acme.example"), EMAIL),
        (logout.NameId("Ann@acme.example", NAMEID_EMAIL), EMAIL),
    ],
    ids=["value", "format", "format-left-out", "name-qualifier", "sp-name-qualifier", "email-as-unspecified", "case"],
)
def test_another_name_id_is_not_matched(asked, participant) -> None:
    assert not names(asked, participant)


def test_our_logout_request_carries_the_name_id_as_asserted_and_expires(signer, ring) -> None:
    now = float(int(time.time()))
    root = logout.logout_request(IDP, "https://sp.example.com/slo", PERSISTENT, now=now, lifetime=300)
    signer.sign(root)
    xml = serialize(root)

    assert protocol_schema_errors(xml) == []
    assert xmlsec1_verifies(xml, ring.certificate_pem, "LogoutRequest")
    name_id = root.find(f"{{{SAML}}}NameID")
    assert (name_id.text, name_id.get("Format")) == ("abc123", NAMEID_PERSISTENT)
    assert (name_id.get("NameQualifier"), name_id.get("SPNameQualifier")) == (IDP, SP)
    assert root.findtext(f"{{{SAMLP}}}SessionIndex") == "_index"
    read = logout.read_request(etree.fromstring(xml))
    assert read.not_on_or_after is not None and read.not_on_or_after.timestamp() - now == 300


def test_a_partial_logout_response_is_schema_valid_and_signed(signer, ring) -> None:
    root = logout.logout_response(
        IDP, "https://sp.example.com/slo", "_request", now=time.time(), sub_status=STATUS_PARTIAL_LOGOUT
    )
    signer.sign(root)
    xml = serialize(root)

    assert protocol_schema_errors(xml) == []
    assert xmlsec1_verifies(xml, ring.certificate_pem, "LogoutResponse")
    codes = [code.get("Value") for code in root.iter(f"{{{SAMLP}}}StatusCode")]
    assert codes == [STATUS_SUCCESS, STATUS_PARTIAL_LOGOUT]


def test_a_refusal_says_why_in_a_status_message(signer, ring) -> None:
    root = logout.logout_response(
        IDP, "https://sp.example.com/slo", "_r", now=time.time(), status="urn:x", message="must be signed"
    )
    signer.sign(root)
    xml = serialize(root)

    assert protocol_schema_errors(xml) == []
    assert root.findtext(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusMessage") == "must be signed"


def test_a_participant_stored_before_qualifiers_were_recorded_still_loads() -> None:
    assert Participant(**{"app_id": "a", "name_id": "n", "name_id_format": NAMEID_EMAIL, "session_index": "s"})
