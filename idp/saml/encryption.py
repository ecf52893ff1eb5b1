"""XML Encryption of assertions for the SP, in process with python-xmlsec: AES-GCM or AES-CBC keys sent by RSA-OAEP."""

from __future__ import annotations

import copy

import xmlsec
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from idp.errors import UnknownAlgorithm, ValidationError
from idp.saml.names import SAML

XENC = "http://www.w3.org/2001/04/xmlenc#"

# AES-256-GCM (XML Encryption 1.1) is the default; AES-128-CBC is for older SPs that lack GCM.
ALGORITHMS = ("aes256-gcm", "aes128-cbc")
DEFAULT_ALGORITHM = "aes256-gcm"
_CIPHERS = {
    "aes256-gcm": (xmlsec.constants.TransformAes256Gcm, 256),
    "aes128-cbc": (xmlsec.constants.TransformAes128Cbc, 128),
}

_CERTIFICATE_FIELD = "encryption_certificate"


def validate_encryption_certificate(sp_certificate_pem: bytes) -> None:
    """Raise ValidationError (field `encryption_certificate`) unless this is a PEM X.509 certificate of an RSA key."""
    _certificate_key(sp_certificate_pem)


def _certificate_key(sp_certificate_pem: bytes) -> xmlsec.Key:
    """The SP's public key from its certificate; RSA only, since the session key travels by RSA-OAEP."""
    try:
        public_key = x509.load_pem_x509_certificate(sp_certificate_pem).public_key()
    except (TypeError, ValueError, UnsupportedAlgorithm) as exc:
        raise ValidationError(
            "the encryption certificate is not a PEM X.509 certificate", field=_CERTIFICATE_FIELD
        ) from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValidationError("the encryption certificate must hold an RSA key", field=_CERTIFICATE_FIELD)
    try:
        return xmlsec.Key.from_memory(sp_certificate_pem, xmlsec.constants.KeyDataFormatCertPem)
    except xmlsec.Error as exc:
        raise ValidationError("the encryption certificate cannot be read", field=_CERTIFICATE_FIELD) from exc


def encrypt_assertion(
    assertion: etree._Element, sp_certificate_pem: bytes, algorithm: str = DEFAULT_ALGORITHM
) -> etree._Element:
    """Encrypt `assertion` for the SP and put a saml:EncryptedAssertion in its place; returns that element.

    Sign the assertion before this, if it is to be signed: the signature is encrypted with it.
    A fresh session key encrypts the assertion and is itself encrypted by RSA-OAEP (MGF1 and
    digest SHA-1) for the SP's certificate, in an EncryptedKey inside the EncryptedData's KeyInfo.
    """
    if algorithm not in _CIPHERS:
        raise UnknownAlgorithm(f"unknown encryption algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    cipher, bits = _CIPHERS[algorithm]
    manager = xmlsec.KeysManager()
    manager.add_key(_certificate_key(sp_certificate_pem))

    # A detached copy declares every namespace it uses, so the plaintext is a well-formed document
    # by itself, for SPs that parse the decrypted assertion out of the Response's context.
    standalone = copy.deepcopy(assertion)
    template = xmlsec.template.encrypted_data_create(
        standalone, cipher, type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, bits, xmlsec.constants.KeyDataTypeSession)
    encrypted = context.encrypt_xml(template, standalone)
    # libxmlsec makes some nodes (KeyInfo, EncryptedKey...) with names outside lxml's name dictionary,
    # so that lxml's find() would miss them; a round trip through the parser gives a clean tree.
    encrypted_data = etree.fromstring(etree.tostring(encrypted))

    parent = assertion.getparent()
    if parent is None:
        wrapper = etree.Element(f"{{{SAML}}}EncryptedAssertion", nsmap={"saml": SAML})
    else:
        wrapper = parent.makeelement(f"{{{SAML}}}EncryptedAssertion")
        wrapper.tail = assertion.tail
        parent.replace(assertion, wrapper)
    wrapper.append(encrypted_data)
    return wrapper
