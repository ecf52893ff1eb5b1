"""X.509 certificates as apps hold them (base64 DER) and as callers send them (PEM or base64 DER)."""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from idp.errors import ValidationError

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def normalise_certificate(value: object, *, field: str) -> str:
    """Base64 DER of a certificate given as PEM or base64 DER; ValidationError naming `field` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a certificate in PEM or base64", field=field)
    match = _PEM.search(value)
    body = "".join((match.group(1) if match else value).split())
    try:
        der = base64.b64decode(body, validate=True)
        certificate = x509.load_der_x509_certificate(der)
        certificate.public_key()  # read lazily otherwise: a key nobody can read would fail only when used
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise ValidationError(f"{field} is not a valid X.509 certificate", field=field) from None
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def certificate_pem(der_base64: str) -> bytes:
    lines = [der_base64[i : i + 64] for i in range(0, len(der_base64), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()
