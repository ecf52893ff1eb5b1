"""A Response built, signed and (optionally) encrypted through the one way out, as bytes for the judges."""

from __future__ import annotations

from idp.saml.attributes import Attribute, attribute_name_format
from idp.saml.encryption import DEFAULT_ALGORITHM
from idp.saml.outbound import Encryption, Sign, protect, serialize
from idp.saml.response import AssertionSpec, build_response
from idp.saml.xmlsig import Signer


def signed_response(spec: AssertionSpec, signed: str | None, signer: Signer) -> bytes:
    return serialize(protect(build_response(spec), Sign.of(signed), signer))


def encrypted_response(
    spec: AssertionSpec, signed: str | None, signer: Signer, sp_certificate_pem: bytes, algorithm: str | None = None
) -> bytes:
    encryption = Encryption(sp_certificate_pem, algorithm or DEFAULT_ALGORITHM)
    return serialize(protect(build_response(spec), Sign.of(signed), signer, encryption))


def single_values(values: dict[str, str]) -> tuple[Attribute, ...]:
    """Attributes of one value each, named as a mapping would name them."""
    return tuple(Attribute(name, (value,), attribute_name_format(name)) for name, value in values.items())
