"""The one way out: every message we send is protected here, then carried by the POST form or the Redirect URL.

A Response is signed (and, for an SP with an encryption certificate, encrypted) by `protect` as
the app's `Sign` says, then posted by `post`; a logout message is signed and carried by `deliver`
over the app's SLO binding.  `post` and `deliver` are the only places a message becomes the form
or the URL the browser carries to the SP, with its RelayState.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from idp.saml import bindings
from idp.saml.algorithms import DEFAULT_SIGNATURE_ALGORITHM, SignatureAlgorithm
from idp.saml.encryption import DEFAULT_ALGORITHM, encrypt_assertion
from idp.saml.names import BINDING_HTTP_REDIRECT, SAMLP
from idp.saml.response import BuiltResponse
from idp.saml.xmlsig import Signer


class Sign(StrEnum):
    """What a Response's signatures cover: the app's `signed` field (null means both)."""

    ASSERTION = "assertion"
    RESPONSE = "response"
    BOTH = "both"

    @classmethod
    def of(cls, value: str | None) -> Sign:
        return cls(value) if value else cls.BOTH

    @property
    def covers_assertion(self) -> bool:
        return self in (Sign.ASSERTION, Sign.BOTH)

    @property
    def covers_response(self) -> bool:
        return self in (Sign.RESPONSE, Sign.BOTH)


@dataclass(frozen=True)
class Encryption:
    """The SP's encryption certificate (PEM) and the block cipher for the assertion."""

    certificate_pem: bytes
    algorithm: str = DEFAULT_ALGORITHM


@dataclass(frozen=True)
class PostForm:
    """An HTML form the browser posts to the SP (HTTP-POST binding)."""

    action: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Redirect:
    """A URL the browser is sent to (HTTP-Redirect binding, or a plain link)."""

    location: str
    status: int = 302


def protect(
    built: BuiltResponse,
    sign: Sign,
    signer: Signer,
    encryption: Encryption | None = None,
    algorithm: SignatureAlgorithm = DEFAULT_SIGNATURE_ALGORITHM,
) -> etree._Element:
    """Sign and encrypt in the one order that works: the assertion is signed, then encrypted (its
    signature travels inside), then the Response is signed over the EncryptedAssertion.

    A Response without an assertion (an error status) has only its root to sign, and always signs it.
    `algorithm` is the app's `signature_algorithm`.
    """
    if built.assertion is None:
        signer.sign(built.root, algorithm)
        return built.root
    if sign.covers_assertion:
        signer.sign(built.assertion, algorithm)
    if encryption is not None:
        encrypt_assertion(built.assertion, encryption.certificate_pem, encryption.algorithm)
    if sign.covers_response:
        signer.sign(built.root, algorithm)
    return built.root


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def deliver(
    root: etree._Element, *, location: str, binding: str | None, relay_state: str | None, signer: Signer
) -> PostForm | Redirect:
    """A logout message, signed as its binding wants and carried by it; `binding` None means HTTP-POST.

    Over HTTP-POST the signature is enveloped in the XML; over HTTP-Redirect the message carries
    none, and the query is signed instead (Bindings 3.4.4.1).
    """
    if binding != BINDING_HTTP_REDIRECT:
        signer.sign(root)
        return post(root, location=location, relay_state=relay_state)
    xml = etree.tostring(root, encoding="UTF-8")
    return Redirect(bindings.redirect_url(location, _param(root), xml, relay_state, signer.sign_bytes))


def post(root: etree._Element, *, location: str, relay_state: str | None) -> PostForm:
    """The HTTP-POST binding (Bindings 3.5.4): the base64 message and its RelayState in a form."""
    fields = {_param(root): base64.b64encode(serialize(root)).decode()}
    if relay_state:
        fields["RelayState"] = relay_state
    return PostForm(location, fields)


def _param(root: etree._Element) -> str:
    """Responses (they carry a Status) travel as SAMLResponse, requests as SAMLRequest."""
    return "SAMLResponse" if root.find(f"{{{SAMLP}}}Status") is not None else "SAMLRequest"
