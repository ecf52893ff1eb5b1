"""Enveloped XML signatures: RSA-SHA256 (or SHA-384/512, or ECDSA-SHA256 with an EC P-256 key, per app),
exclusive c14n.

An IdP signs the same shape of Signature every time, so the Signature is made from parts
prepared once per key and algorithm: a ready Signature element (its KeyInfo already holding the
certificate) is copied in, the Reference's digest is taken over the element's exclusive
canonical form (lxml, libxml2's c14n) before the Signature goes in (what the enveloped-signature
transform leaves), and the canonical SignedInfo is signed with the key parsed once (cryptography,
OpenSSL). python-xmlsec signs what these parts do not cover (a key or digest they do not know),
with the same output. Either way the result verifies with xmlsec1, python3-saml and pysaml2.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import time
from collections.abc import Callable

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from idp.errors import ConfigurationError
from idp.saml.algorithms import DEFAULT_SIGNATURE_ALGORITHM, SHA256, SHA384, SHA512, SignatureAlgorithm
from idp.saml.names import DS, SAML

_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
# The digests the prepared parts take themselves, by DigestMethod URI.
_DIGESTS = {SHA256: hashlib.sha256, SHA384: hashlib.sha384, SHA512: hashlib.sha512}


def _ds(name: str) -> str:
    return f"{{{DS}}}{name}"


def _signature_template(algorithm: SignatureAlgorithm, certificate_base64: str) -> etree._Element:
    """The Signature every element gets under `algorithm`, but for its Reference URI, digest and value."""
    signature = etree.Element(_ds("Signature"), nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=_EXC_C14N)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=algorithm.signing_method.uri)
    reference = etree.SubElement(signed_info, _ds("Reference"))
    transforms = etree.SubElement(reference, _ds("Transforms"))
    etree.SubElement(transforms, _ds("Transform"), Algorithm=_ENVELOPED)
    etree.SubElement(transforms, _ds("Transform"), Algorithm=_EXC_C14N)
    etree.SubElement(reference, _ds("DigestMethod"), Algorithm=algorithm.digest_method.uri)
    etree.SubElement(reference, _ds("DigestValue"))
    etree.SubElement(signature, _ds("SignatureValue"))
    key_info = etree.SubElement(signature, _ds("KeyInfo"))
    x509_data = etree.SubElement(key_info, _ds("X509Data"))
    etree.SubElement(x509_data, _ds("X509Certificate")).text = certificate_base64
    return signature


def _exclusive_c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


class Signer:
    """Signs SAML elements with the IdP's key; the key is parsed once and reused."""

    def __init__(
        self, key_pem: bytes, certificate_pem: bytes, *, on_signature: Callable[[str, float], None] | None = None
    ) -> None:
        """`on_signature`, when given, is told of each signature: its kind (`xml` or `redirect`) and seconds."""
        self._on_signature = on_signature
        self._key_pem, self._certificate_pem = key_pem, certificate_pem
        private_key = serialization.load_pem_private_key(key_pem, password=None)
        self.key_type = key_type_of(private_key)
        self._private_key = private_key
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        self._certificate_base64 = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
        self._templates: dict[str, etree._Element] = {}  # by algorithm name, made when first used
        self._xmlsec_key: xmlsec.Key | None = None

    def sign_bytes(self, data: bytes) -> bytes:
        """RSA-SHA256 (PKCS#1 v1.5) over `data`, for the HTTP-Redirect binding's query signature."""
        if not isinstance(self._private_key, rsa.RSAPrivateKey):
            raise ConfigurationError("HTTP-Redirect signatures here are RSA-SHA256: this signing key is not RSA")
        started = time.perf_counter()
        signature = self._private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if self._on_signature is not None:
            self._on_signature("redirect", time.perf_counter() - started)
        return signature

    def sign(self, element: etree._Element, algorithm: SignatureAlgorithm = DEFAULT_SIGNATURE_ALGORITHM) -> None:
        """Sign `element` in place; the Signature goes right after its Issuer, as the schema asks."""
        if algorithm.signing_method.key_type != self.key_type:
            raise ConfigurationError(f"{algorithm.name} needs an {algorithm.signing_method.key_type.upper()} key")
        element_id = element.get("ID")
        if element_id is None:
            raise ValueError("the element to sign has no ID attribute")
        started = time.perf_counter()
        digest = _DIGESTS.get(algorithm.digest_method.uri)
        if digest is None:
            self._sign_with_xmlsec(element, element_id, algorithm)
        else:
            self._sign_prepared(element, element_id, algorithm, digest)
        if self._on_signature is not None:
            self._on_signature("xml", time.perf_counter() - started)

    def _sign_prepared(
        self,
        element: etree._Element,
        element_id: str,
        algorithm: SignatureAlgorithm,
        digest: Callable[[bytes], hashlib._Hash],
    ) -> None:
        # The enveloped-signature transform takes the Signature out again: the digest is that of the
        # element as it is before the Signature goes in.
        digest_value = base64.b64encode(digest(_exclusive_c14n(element)).digest()).decode()
        template = self._templates.get(algorithm.name)
        if template is None:
            template = self._templates[algorithm.name] = _signature_template(algorithm, self._certificate_base64)
        signature = copy.deepcopy(template)
        signed_info, signature_value = signature[0], signature[1]
        reference = signed_info[2]
        reference.set("URI", "#" + element_id)
        reference[2].text = digest_value
        _insert(element, signature)
        # SignedInfo canonicalised where it stands, in the element's tree, as a verifier will.
        value = self._signature_value(_exclusive_c14n(signed_info), algorithm)
        signature_value.text = base64.b64encode(value).decode()

    def _signature_value(self, signed_info: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """The SignatureValue's bytes: PKCS#1 v1.5 for RSA; for ECDSA, r and s as two 32-byte big-endian
        integers (XML Signature 1.1, 6.4.3), not the DER structure that OpenSSL returns."""
        hash_algorithm = algorithm.signing_method.hash()
        if isinstance(self._private_key, rsa.RSAPrivateKey):
            return self._private_key.sign(signed_info, padding.PKCS1v15(), hash_algorithm)
        assert isinstance(self._private_key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(self._private_key.sign(signed_info, ec.ECDSA(hash_algorithm)))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def _sign_with_xmlsec(self, element: etree._Element, element_id: str, algorithm: SignatureAlgorithm) -> None:
        signature = xmlsec.template.create(
            element, xmlsec.constants.TransformExclC14N, algorithm.signing_method.transform, ns="ds"
        )
        _insert(element, signature)
        reference = xmlsec.template.add_reference(signature, algorithm.digest_method.transform, uri="#" + element_id)
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        xmlsec.template.add_x509_data(key_info)
        xmlsec.tree.add_ids(element, ["ID"])
        if self._xmlsec_key is None:
            key = xmlsec.Key.from_memory(self._key_pem, xmlsec.constants.KeyDataFormatPem)
            key.load_cert_from_memory(self._certificate_pem, xmlsec.constants.KeyDataFormatCertPem)
            self._xmlsec_key = key
        context = xmlsec.SignatureContext()
        context.key = self._xmlsec_key
        context.sign(signature)


def _insert(element: etree._Element, signature: etree._Element) -> None:
    """Right after the element's Issuer (SAML Core 5.4.1 and the schema), else first."""
    issuer = element.find(f"{{{SAML}}}Issuer")
    if issuer is None:
        element.insert(0, signature)
    else:
        issuer.addnext(signature)


def key_type_of(private_key: object) -> str:
    """The signing key's type: "rsa", or "ec" (P-256 only, the curve of ECDSA-SHA256); no other key signs here."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "rsa"
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(private_key.curve, ec.SECP256R1):
        return "ec"
    raise ConfigurationError("a signing key must be an RSA key or an EC P-256 key")
