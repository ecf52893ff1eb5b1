"""SAML bindings (SAML Bindings 2.0, sections 3.4 and 3.5): messages in and out over HTTP-Redirect and HTTP-POST.

HTTP-Redirect carries a DEFLATEd, base64 message in the query, signed over the query string;
HTTP-POST a base64 message in a form, signed with an enveloped XML signature.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

import xmlsec
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from lxml import etree

from idp.errors import SamlRequestRefused
from idp.saml import algorithms
from idp.saml.algorithms import Accepted
from idp.saml.names import DS

_MAX_INFLATED = 256 * 1024
_CANONICALIZATIONS = (
    xmlsec.constants.TransformExclC14N,
    xmlsec.constants.TransformExclC14NWithComments,
    xmlsec.constants.TransformInclC14N,
    xmlsec.constants.TransformInclC14NWithComments,
)
# What a reference may use besides its digest: the enveloped-signature and c14n transforms; no
# XPath, no XSLT.
_REFERENCE_TRANSFORMS = (xmlsec.constants.TransformEnveloped, *_CANONICALIZATIONS)


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
        # A query as sent is ASCII; a character that is not (a lone surrogate even) was never signed,
        # and encodes to octets no signature covers instead of failing to encode.
        signed_octets = "&".join(parts).encode("utf-8", "surrogatepass")
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


def _public_keys(certificates: list[str]) -> list[CertificatePublicKeyTypes]:
    keys: list[CertificatePublicKeyTypes] = []
    for encoded in certificates:
        try:
            keys.append(x509.load_der_x509_certificate(base64.b64decode(encoded)).public_key())
        except (ValueError, UnsupportedAlgorithm):
            continue  # a certificate whose key cannot be read verifies nothing
    return keys


def redirect_signature_valid(message: ReceivedMessage, certificates: list[str], accepted: Accepted) -> bool:
    """Bindings 3.4.4.1: the signature over SAMLRequest, RelayState and SigAlg, as sent, by an accepted SigAlg."""
    method = accepted.signing_method(message.sig_alg)
    if method is None or message.signed_octets is None or message.signature is None:
        return False
    for key in _public_keys(certificates):
        try:
            if method.key_type == "rsa" and isinstance(key, rsa.RSAPublicKey):
                key.verify(message.signature, message.signed_octets, padding.PKCS1v15(), method.hash())
                return True
            if method.key_type == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(message.signature, message.signed_octets, ec.ECDSA(method.hash()))
                return True
        except InvalidSignature:
            continue
    return False


def post_signature_valid(root: etree._Element, certificates: list[str], accepted: Accepted) -> bool:
    """An enveloped signature that is a child of the root and covers the root itself, by its ID,
    with an accepted SignatureMethod and DigestMethod.

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
            # xmlsec is told what is accepted, so the verdict does not rest on having read the
            # algorithms beforehand: SignedInfo's CanonicalizationMethod and SignatureMethod, and
            # each Reference's transforms and DigestMethod (xmlsec counts digests as transforms).
            for transform in (*_CANONICALIZATIONS, *(method.transform for method in accepted.signing_methods)):
                context.enable_signature_transform(transform)
            for transform in (*_REFERENCE_TRANSFORMS, *(digest.transform for digest in accepted.digest_methods)):
                context.enable_reference_transform(transform)
            context.key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem)
            context.verify(signature)
            return True
        except xmlsec.Error:
            continue
    return False


def has_signature(message: ReceivedMessage, root: etree._Element) -> bool:
    if message.binding == "redirect":
        return message.signature is not None
    return root.find(f"{{{DS}}}Signature") is not None


def signature_algorithms(message: ReceivedMessage, root: etree._Element) -> list[str]:
    """The algorithms a signed message says it was signed with, before anything is verified: the
    SigAlg of an HTTP-Redirect query; the SignatureMethod and every DigestMethod of an HTTP-POST
    message's enveloped signature."""
    if message.binding == "redirect":
        return [message.sig_alg] if message.sig_alg else []
    signed_info = root.find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo")
    if signed_info is None:
        return []
    named = signed_info.findall(f"{{{DS}}}SignatureMethod") + signed_info.findall(
        f"{{{DS}}}Reference/{{{DS}}}DigestMethod"
    )
    return [element.get("Algorithm") or "" for element in named]


def uses_sha1(message: ReceivedMessage, root: etree._Element) -> bool:
    return any(algorithms.is_sha1(uri) for uri in signature_algorithms(message, root))


def signature_valid(
    message: ReceivedMessage, root: etree._Element, certificates: list[str], accepted: Accepted
) -> bool:
    if message.binding == "redirect":
        return redirect_signature_valid(message, certificates, accepted)
    return post_signature_valid(root, certificates, accepted)


def redirect_url(location: str, param: str, xml: bytes, relay_state: str | None, sign: Callable[[bytes], bytes]) -> str:
    """`location` with the message DEFLATEd into `param`, signed with RSA-SHA256 by `sign(octets) -> bytes`."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(xml) + compressor.flush()
    query = f"{param}={quote(base64.b64encode(deflated).decode(), safe='')}"
    if relay_state:
        query += f"&RelayState={quote(relay_state, safe='')}"
    query += f"&SigAlg={quote(algorithms.RSA_SHA256, safe='')}"
    signature = base64.b64encode(sign(query.encode())).decode()
    query += f"&Signature={quote(signature, safe='')}"
    return f"{location}{'&' if '?' in location else '?'}{query}"
