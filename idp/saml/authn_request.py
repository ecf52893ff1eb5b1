"""Receiving an AuthnRequest over HTTP-Redirect or HTTP-POST: decode, parse safely, verify its signature.

SAML Bindings 2.0 sections 3.4 (HTTP-Redirect: DEFLATE, base64, a signature over the query
string) and 3.5 (HTTP-POST: base64, an enveloped XML signature).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import zlib
from dataclasses import dataclass
from urllib.parse import unquote_plus

import xmlsec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from idp.errors import SamlRequestRefused
from idp.saml.names import DS, SAML, SAMLP
from idp.saml.xml import parse_untrusted

# The signature algorithms accepted on requests. SHA-1 is still what many SPs send by default.
_REDIRECT_SIG_ALGS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("rsa", hashes.SHA1),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256),
}
_MAX_INFLATED = 256 * 1024
_ALLOWED_TRANSFORMS = (
    xmlsec.constants.TransformEnveloped,
    xmlsec.constants.TransformExclC14N,
    xmlsec.constants.TransformExclC14NWithComments,
    xmlsec.constants.TransformInclC14N,
    xmlsec.constants.TransformInclC14NWithComments,
)


@dataclass(frozen=True)
class ReceivedMessage:
    """A protocol message as it came in, before its contents are trusted."""

    xml: bytes
    relay_state: str | None
    binding: str  # "redirect" or "post"
    # HTTP-Redirect only: what the signature covers, the algorithm and the signature itself.
    signed_octets: bytes | None = None
    sig_alg: str | None = None
    signature: bytes | None = None


@dataclass(frozen=True)
class AuthnRequest:
    id: str
    issuer: str
    issue_instant: datetime.datetime
    destination: str | None
    acs_url: str | None
    acs_index: int | None
    protocol_binding: str | None
    force_authn: bool
    is_passive: bool
    name_id_format: str | None
    root: etree._Element


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise SamlRequestRefused(f"{what} is not base64") from None


def _raw_param(raw_query: str, name: str) -> str | None:
    """A query parameter exactly as sent (still URL-encoded): the redirect signature covers that form."""
    for part in raw_query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


def from_redirect(raw_query: str, message_param: str = "SAMLRequest") -> ReceivedMessage:
    encoded = _raw_param(raw_query, message_param)
    if not encoded:
        raise SamlRequestRefused(f"{message_param} is missing")
    deflated = _b64(unquote_plus(encoded), message_param)
    try:
        inflater = zlib.decompressobj(-15)
        xml = inflater.decompress(deflated, _MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise SamlRequestRefused(f"{message_param} is too large")
    except zlib.error:
        raise SamlRequestRefused(f"{message_param} is not DEFLATE-compressed") from None
    relay = _raw_param(raw_query, "RelayState")
    sig_alg, signature = _raw_param(raw_query, "SigAlg"), _raw_param(raw_query, "Signature")
    signed_octets = None
    if sig_alg is not None and signature is not None:
        parts = [f"{message_param}={encoded}"]
        if relay is not None:
            parts.append(f"RelayState={relay}")
        parts.append(f"SigAlg={sig_alg}")
        signed_octets = "&".join(parts).encode()
    return ReceivedMessage(
        xml=xml,
        relay_state=unquote_plus(relay) if relay is not None else None,
        binding="redirect",
        signed_octets=signed_octets,
        sig_alg=unquote_plus(sig_alg) if sig_alg is not None else None,
        signature=_b64(unquote_plus(signature), "Signature") if signature is not None else None,
    )


def from_post(form: dict[str, str], message_param: str = "SAMLRequest") -> ReceivedMessage:
    encoded = form.get(message_param)
    if not encoded:
        raise SamlRequestRefused(f"{message_param} is missing")
    return ReceivedMessage(xml=_b64(encoded, message_param), relay_state=form.get("RelayState"), binding="post")


def _instant(value: str | None) -> datetime.datetime:
    if not value:
        raise SamlRequestRefused("IssueInstant is missing")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SamlRequestRefused("IssueInstant is not a dateTime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _bool(value: str | None) -> bool:
    return value in ("true", "1")


def parse(message: ReceivedMessage) -> AuthnRequest:
    root = parse_untrusted(message.xml, what="the AuthnRequest")
    if root.tag != f"{{{SAMLP}}}AuthnRequest":
        raise SamlRequestRefused("the message is not an AuthnRequest")
    if root.get("Version") != "2.0":
        raise SamlRequestRefused("only SAML 2.0 requests are accepted")
    request_id, issuer = root.get("ID"), root.findtext(f"{{{SAML}}}Issuer")
    if not request_id or not issuer or not issuer.strip():
        raise SamlRequestRefused("the AuthnRequest has no ID or no Issuer")
    index = root.get("AssertionConsumerServiceIndex")
    policy = root.find(f"{{{SAMLP}}}NameIDPolicy")
    try:
        acs_index = int(index) if index is not None else None
    except ValueError:
        raise SamlRequestRefused("AssertionConsumerServiceIndex is not a number") from None
    return AuthnRequest(
        id=request_id,
        issuer=issuer.strip(),
        issue_instant=_instant(root.get("IssueInstant")),
        destination=root.get("Destination"),
        acs_url=root.get("AssertionConsumerServiceURL"),
        acs_index=acs_index,
        protocol_binding=root.get("ProtocolBinding"),
        force_authn=_bool(root.get("ForceAuthn")),
        is_passive=_bool(root.get("IsPassive")),
        name_id_format=policy.get("Format") if policy is not None else None,
        root=root,
    )


def _public_keys(certificates: list[str]) -> list:
    keys = []
    for encoded in certificates:
        try:
            keys.append(x509.load_der_x509_certificate(base64.b64decode(encoded)).public_key())
        except ValueError:
            continue
    return keys


def redirect_signature_valid(message: ReceivedMessage, certificates: list[str]) -> bool:
    """Bindings 3.4.4.1: the signature over SAMLRequest, RelayState and SigAlg, as sent."""
    algorithm = _REDIRECT_SIG_ALGS.get(message.sig_alg or "")
    if algorithm is None or message.signed_octets is None or message.signature is None:
        return False
    family, digest = algorithm
    for key in _public_keys(certificates):
        try:
            if family == "rsa" and isinstance(key, rsa.RSAPublicKey):
                key.verify(message.signature, message.signed_octets, padding.PKCS1v15(), digest())
                return True
            if family == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(message.signature, message.signed_octets, ec.ECDSA(digest()))
                return True
        except InvalidSignature:
            continue
    return False


def post_signature_valid(root: etree._Element, certificates: list[str]) -> bool:
    """An enveloped signature that is a child of the root and covers the root itself, by its ID.

    Anything else (a signature elsewhere, a reference to another element) is refused, which
    closes the door to signature-wrapping attacks.
    """
    signature = root.find(f"{{{DS}}}Signature")
    references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference") if signature is not None else []
    if signature is None or len(references) != 1 or references[0].get("URI") != "#" + (root.get("ID") or "\0"):
        return False
    xmlsec.tree.add_ids(root, ["ID"])
    for encoded in certificates:
        pem = b"-----BEGIN CERTIFICATE-----\n" + encoded.encode() + b"\n-----END CERTIFICATE-----\n"
        try:
            context = xmlsec.SignatureContext()
            # Only the transforms an enveloped SAML signature uses: no XPath, no XSLT.
            for transform in _ALLOWED_TRANSFORMS:
                context.enable_reference_transform(transform)
            context.key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
            context.verify(signature)
            return True
        except xmlsec.Error:
            continue
    return False


def has_signature(message: ReceivedMessage, request: AuthnRequest) -> bool:
    if message.binding == "redirect":
        return message.signature is not None
    return request.root.find(f"{{{DS}}}Signature") is not None
