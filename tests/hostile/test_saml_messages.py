"""The one way in, fed hostile input: whatever an SP (or anyone) sends, reading and checking it either
succeeds or is a SamlRequestRefused, never another exception.

Inputs are raw query strings and forms of every shape, and real python3-saml messages (unsigned and
signed) mutated: elements dropped, duplicated, moved, renamed and re-namespaced, attributes dropped,
renamed and set to hostile or huge values, comments inside the Issuer, deep nesting, a DOCTYPE with
entities (in UTF-8 and UTF-16), flipped, truncated and inserted bytes.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from idp.errors import SamlRequestRefused
from idp.keyring import make_signing_pair
from idp.models import SsoApplication
from idp.saml import authn_request, bindings, inbound
from tests.hostile.saml_inputs import (
    ACS_URL,
    RSA_SHA256,
    SAML,
    SP_ENTITY_ID,
    SSO_URL,
    deflate,
    der_base64,
    forms,
    logout_request,
    logout_response,
    mutated,
    post_value,
    query_strings,
    redirect_value,
    signed,
)
from tests.hostile.saml_inputs import authn_request as make_authn_request

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
KINDS = list(inbound.Kind)


def read_and_parse(kind: inbound.Kind, *, query: str | None = None, form: dict[str, str] | None = None) -> None:
    """Everything the one way in does before it needs the store: decode the binding, parse the envelope
    (and for an AuthnRequest, what it asks for). Only a SamlRequestRefused may come out."""
    try:
        message = inbound.read(kind, query=query, form=form)
        if kind is inbound.Kind.AUTHN_REQUEST:
            authn_request.parse(message)
        else:
            inbound.parse(message, kind)
    except SamlRequestRefused:
        pass


@SETTINGS
@given(kind=st.sampled_from(KINDS), query=query_strings())
# A signed query holding a character that is not ASCII (here a lone surrogate) once failed to encode.
@example(kind=inbound.Kind.AUTHN_REQUEST, query=f"SAMLRequest={redirect_value(b'<x/>')}&SigAlg=\ud800&Signature=AAAA")
@example(
    kind=inbound.Kind.LOGOUT_REQUEST,
    query=f"SAMLRequest={redirect_value(b'<x/>')}&RelayState=\udcff&SigAlg=a&Signature=",
)
def test_any_query_string_is_read_or_refused(kind, query) -> None:
    read_and_parse(kind, query=query)


@SETTINGS
@given(kind=st.sampled_from(KINDS), form=forms())
def test_any_form_is_read_or_refused(kind, form) -> None:
    read_and_parse(kind, form=form)


REAL = {
    inbound.Kind.AUTHN_REQUEST: make_authn_request(),
    inbound.Kind.LOGOUT_REQUEST: logout_request(),
    inbound.Kind.LOGOUT_RESPONSE: logout_response(),
}


def test_the_real_messages_mutated_below_are_read() -> None:
    for kind, xml in REAL.items():
        for message in (
            inbound.read(kind, query=f"{kind.param}={redirect_value(xml)}"),
            inbound.read(kind, form={kind.param: post_value(xml)}),
        ):
            assert inbound.parse(message, kind).issuer == SP_ENTITY_ID


def whole_text(element: etree._Element) -> str:
    """An element's text as a signature's canonical form sees it: every text node, comments left out."""
    return "".join(str(text) for text in element.itertext()).strip()


@st.composite
def mutated_messages(draw: st.DrawFn) -> tuple[inbound.Kind, bytes]:
    kind = draw(st.sampled_from(KINDS))
    return kind, draw(mutated(REAL[kind]))


@SETTINGS
@given(message=mutated_messages(), binding=st.sampled_from(["redirect", "post"]))
@example(  # a comment inside the Issuer once cut the Issuer read short: https://sp.
    message=(
        inbound.Kind.AUTHN_REQUEST,
        REAL[inbound.Kind.AUTHN_REQUEST].replace(b"<saml:Issuer>https://sp.", b"<saml:Issuer>https://sp.<!---->", 1),
    ),
    binding="post",
)
def test_a_mutated_message_is_read_as_it_stands_or_refused(message, binding) -> None:
    kind, xml = message
    try:
        if binding == "redirect":
            received = inbound.read(kind, query=f"{kind.param}={redirect_value(xml)}")
        else:
            received = inbound.read(kind, form={kind.param: post_value(xml)})
        parsed = inbound.parse(received, kind)
        if kind is inbound.Kind.AUTHN_REQUEST:
            authn_request.read(parsed)
    except SamlRequestRefused:
        return
    # What was read is what the message says: the Issuer whole (no comment cuts it short), the root's ID.
    issuer = parsed.root.find(f"{{{SAML}}}Issuer")
    assert issuer is not None and parsed.issuer == whole_text(issuer)
    assert parsed.id == parsed.root.get("ID")


# ---------------------------------------------------------------------------------------------
# Signed messages: a mutation either leaves the meaning as signed, or the message is refused
# ---------------------------------------------------------------------------------------------

SP_KEYS = make_signing_pair(2048, "hostile sp")
SP_APP = SsoApplication(
    id="sp",
    owner_brand_id="brand",
    name="Hostile SP",
    authentication_type="SAML",
    created_at=0,
    updated_at=0,
    acs_url=ACS_URL,
    entity_id=SP_ENTITY_ID,
    sp_certificates=[der_base64(SP_KEYS[1])],
    require_signed_requests=True,
)


def verify(received: bindings.ReceivedMessage) -> authn_request.AuthnRequest:
    """The whole one way in, with a fresh replay cache and the app known by its entityID."""
    seen: set[str] = set()

    def claim_once(key: str, ttl: float) -> bool:
        fresh = key not in seen
        seen.add(key)
        return fresh

    verified = inbound.verify(
        received,
        inbound.Kind.AUTHN_REQUEST,
        find_senders=lambda issuer: [SP_APP] if issuer == SP_APP.entity_id else [],
        claim_once=claim_once,
        destination=SSO_URL,
        now=time.time(),
        skew=180,
    )
    return authn_request.read(verified.parsed)


def meaning(request: authn_request.AuthnRequest) -> tuple[object, ...]:
    return (
        request.id,
        request.issuer,
        request.destination,
        request.acs_url,
        request.acs_index,
        request.protocol_binding,
        request.force_authn,
        request.is_passive,
        request.name_id_format,
    )


@pytest.fixture(scope="module")
def signed_request() -> tuple[bytes, tuple[object, ...]]:
    xml = signed(make_authn_request(), SP_KEYS)
    return xml, meaning(verify(inbound.read(inbound.Kind.AUTHN_REQUEST, form={"SAMLRequest": post_value(xml)})))


@SETTINGS
@given(data=st.data())
def test_a_mutated_signed_post_request_verifies_only_with_its_signed_meaning(signed_request, data) -> None:
    xml, original = signed_request
    changed = data.draw(mutated(xml))
    try:
        request = verify(inbound.read(inbound.Kind.AUTHN_REQUEST, form={"SAMLRequest": post_value(changed)}))
    except SamlRequestRefused:
        return
    assert meaning(request) == original


def signed_query(xml: bytes, relay_state: str) -> str:
    """An HTTP-Redirect query signed as Bindings 3.4.4.1 says, with RSA-SHA256."""
    key = serialization.load_pem_private_key(SP_KEYS[0], password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    query = f"SAMLRequest={redirect_value(xml)}&RelayState={quote(relay_state, safe='')}"
    query += f"&SigAlg={quote(RSA_SHA256, safe='')}"
    signature = key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
    return query + f"&Signature={quote(base64.b64encode(signature).decode(), safe='')}"


@st.composite
def mutated_queries(draw: st.DrawFn, query: str) -> str:
    """The signed query with its parameters reordered, repeated, dropped, or its characters changed."""
    parts = query.split("&")
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.integers(0, 4))
        at = draw(st.integers(0, len(parts) - 1)) if parts else 0
        if operation == 0 and parts:
            parts.insert(draw(st.integers(0, len(parts))), parts.pop(at))
        elif operation == 1 and parts:
            parts.insert(draw(st.integers(0, len(parts))), parts[at])
        elif operation == 2 and parts:
            parts.pop(at)
        elif operation == 3 and parts:
            text = parts[at]
            cut = draw(st.integers(0, len(text)))
            parts[at] = text[:cut] + draw(st.sampled_from(["", "%", "+", "%20", "A", "=", "\ud800"])) + text[cut + 1 :]
        else:
            name = draw(st.sampled_from(["SAMLRequest", "RelayState", "SigAlg", "Signature"]))
            value = draw(st.sampled_from(["", "x", quote(base64.b64encode(deflate(b"<x/>")).decode(), safe="")]))
            parts.insert(draw(st.integers(0, len(parts))), f"{name}={value}")
    return "&".join(parts)


@pytest.fixture(scope="module")
def signed_redirect() -> tuple[str, tuple[object, ...]]:
    query = signed_query(make_authn_request(), "https://sp.example.com/after")
    return query, meaning(verify(inbound.read(inbound.Kind.AUTHN_REQUEST, query=query)))


@SETTINGS
@given(data=st.data())
def test_a_mutated_signed_redirect_verifies_only_with_its_signed_meaning(signed_redirect, data) -> None:
    query, original = signed_redirect
    changed = data.draw(mutated_queries(query))
    try:
        received = inbound.read(inbound.Kind.AUTHN_REQUEST, query=changed)
        request = verify(received)
    except SamlRequestRefused:
        return
    assert meaning(request) == original
    assert received.relay_state == "https://sp.example.com/after"
