"""Enveloped XML signatures, in process with python-xmlsec: RSA-SHA256 (or SHA-384/512, or ECDSA-SHA256
with an EC P-256 key, per app), exclusive c14n."""

from __future__ import annotations

import time
from collections.abc import Callable

import xmlsec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from idp.errors import ConfigurationError
from idp.saml.algorithms import DEFAULT_SIGNATURE_ALGORITHM, SignatureAlgorithm
from idp.saml.names import SAML


class Signer:
    """Signs SAML elements with the IdP's key; the key is parsed once and reused."""

    def __init__(
        self, key_pem: bytes, certificate_pem: bytes, *, on_signature: Callable[[str, float], None] | None = None
    ) -> None:
        """`on_signature`, when given, is told of each signature: its kind (`xml` or `redirect`) and seconds."""
        self._on_signature = on_signature
        self._key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
        self._key.load_cert_from_memory(certificate_pem, xmlsec.constants.KeyDataFormatCertPem)
        private_key = serialization.load_pem_private_key(key_pem, password=None)
        self.key_type = key_type_of(private_key)
        self._private_key = private_key

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
        signature = xmlsec.template.create(
            element, xmlsec.constants.TransformExclC14N, algorithm.signing_method.transform, ns="ds"
        )
        issuer = element.find(f"{{{SAML}}}Issuer")
        if issuer is None:
            element.insert(0, signature)
        else:
            issuer.addnext(signature)
        element_id = element.get("ID")
        if element_id is None:
            raise ValueError("the element to sign has no ID attribute")
        reference = xmlsec.template.add_reference(signature, algorithm.digest_method.transform, uri="#" + element_id)
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        xmlsec.template.add_x509_data(key_info)
        xmlsec.tree.add_ids(element, ["ID"])
        context = xmlsec.SignatureContext()
        context.key = self._key
        started = time.perf_counter()
        context.sign(signature)
        if self._on_signature is not None:
            self._on_signature("xml", time.perf_counter() - started)


def key_type_of(private_key: object) -> str:
    """The signing key's type: "rsa", or "ec" (P-256 only, the curve of ECDSA-SHA256); no other key signs here."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "rsa"
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(private_key.curve, ec.SECP256R1):
        return "ec"
    raise ConfigurationError("a signing key must be an RSA key or an EC P-256 key")
