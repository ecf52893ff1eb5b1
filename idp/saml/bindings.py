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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from lxml import etree

from idp.errors import SamlRequestRefused
from idp.saml.names import DS

# The signature algorithms accepted on incoming messages. SHA-1 is still what many SPs send by default.
_REDIRECT_SIG_ALGS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512),
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("rsa", hashes.SHA1),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256),
}
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_MAX_INFLATED = 256 * 1024
# What a reference may use: the enveloped-signature and c14n transforms and the usual digests
# (xmlsec counts digests as transforms); no XPath, no XSLT.
_ALLOWED_TRANSFORMS = (
    xmlsec.constants.TransformSha1,
    xmlsec.constants.TransformSha256,
    xmlsec.constants.TransformSha384,
    xmlsec.constants.TransformSha512,
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


def has_signature(message: ReceivedMessage, root: etree._Element) -> bool:
    if message.binding == "redirect":
        return message.signature is not None
    return root.find(f"{{{DS}}}Signature") is not None


def signature_valid(message: ReceivedMessage, root: etree._Element, certificates: list[str]) -> bool:
    if message.binding == "redirect":
        return redirect_signature_valid(message, certificates)
    return post_signature_valid(root, certificates)


def redirect_url(location: str, param: str, xml: bytes, relay_state: str | None, sign: Callable[[bytes], bytes]) -> str:
    """`location` with the message DEFLATEd into `param`, signed with RSA-SHA256 by `sign(octets) -> bytes`."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(xml) + compressor.flush()
    query = f"{param}={quote(base64.b64encode(deflated).decode(), safe='')}"
    if relay_state:
        query += f"&RelayState={quote(relay_state, safe='')}"
    query += f"&SigAlg={quote(RSA_SHA256, safe='')}"
    signature = base64.b64encode(sign(query.encode())).decode()
    query += f"&Signature={quote(signature, safe='')}"
    return f"{location}{'&' if '?' in location else '?'}{query}"
