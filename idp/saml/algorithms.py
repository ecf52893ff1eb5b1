"""The XML Signature algorithms an SP's messages may be signed with, and which of them are SHA-1.

One table serves the signature checks of both bindings (bindings.py) and what the metadata declares
(metadata.py), so what is accepted and what is announced cannot drift apart.

SHA-1 stands apart: collisions are practical (SHAttered, 2017; a chosen-prefix collision, 2020),
so a signature over a SHA-1 digest proves less than it seems to. It is accepted only from an
application that opts in; which one does is the signature policy's call (inbound.py), not this
module's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import xmlsec
from cryptography.hazmat.primitives import hashes

from idp.errors import UnknownAlgorithm

if TYPE_CHECKING:
    from xmlsec.constants import __Transform as Transform  # the stubs' name; no such name at run time

DSIG = "http://www.w3.org/2000/09/xmldsig#"
DSIG_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
XMLENC = "http://www.w3.org/2001/04/xmlenc#"

RSA_SHA256 = f"{DSIG_MORE}rsa-sha256"
RSA_SHA384 = f"{DSIG_MORE}rsa-sha384"
RSA_SHA512 = f"{DSIG_MORE}rsa-sha512"
ECDSA_SHA256 = f"{DSIG_MORE}ecdsa-sha256"
RSA_SHA1 = f"{DSIG}rsa-sha1"
DSA_SHA1 = f"{DSIG}dsa-sha1"
ECDSA_SHA1 = f"{DSIG_MORE}ecdsa-sha1"

SHA256 = f"{XMLENC}sha256"
SHA384 = f"{DSIG_MORE}sha384"
SHA512 = f"{XMLENC}sha512"
SHA1 = f"{DSIG}sha1"

# Every SHA-1 algorithm an SP might name, accepted or not: each is refused as SHA-1, so the
# refusal says why, even for those (DSA, ECDSA) that would not verify here anyway.
SHA1_ALGORITHMS = frozenset({RSA_SHA1, DSA_SHA1, ECDSA_SHA1, SHA1})


@dataclass(frozen=True)
class SigningMethod:
    """A signature algorithm: its URI, the key it needs, its hash, and xmlsec's transform for it."""

    uri: str
    key_type: Literal["rsa", "ec"]
    hash: type[hashes.HashAlgorithm]
    transform: Transform


@dataclass(frozen=True)
class DigestMethod:
    uri: str
    transform: Transform


# Strongest first: the order metadata lists them in.
_SIGNING_METHODS = (
    SigningMethod(RSA_SHA256, "rsa", hashes.SHA256, xmlsec.constants.TransformRsaSha256),
    SigningMethod(RSA_SHA384, "rsa", hashes.SHA384, xmlsec.constants.TransformRsaSha384),
    SigningMethod(RSA_SHA512, "rsa", hashes.SHA512, xmlsec.constants.TransformRsaSha512),
    SigningMethod(ECDSA_SHA256, "ec", hashes.SHA256, xmlsec.constants.TransformEcdsaSha256),
)
_SHA1_SIGNING_METHODS = (SigningMethod(RSA_SHA1, "rsa", hashes.SHA1, xmlsec.constants.TransformRsaSha1),)
_DIGEST_METHODS = (
    DigestMethod(SHA256, xmlsec.constants.TransformSha256),
    DigestMethod(SHA384, xmlsec.constants.TransformSha384),
    DigestMethod(SHA512, xmlsec.constants.TransformSha512),
)
_SHA1_DIGEST_METHODS = (DigestMethod(SHA1, xmlsec.constants.TransformSha1),)


@dataclass(frozen=True)
class Accepted:
    """The algorithms a message's signature may use."""

    signing_methods: tuple[SigningMethod, ...]
    digest_methods: tuple[DigestMethod, ...]

    @property
    def includes_sha1(self) -> bool:
        uris = [method.uri for method in self.signing_methods] + [method.uri for method in self.digest_methods]
        return any(is_sha1(uri) for uri in uris)

    def signing_method(self, uri: str | None) -> SigningMethod | None:
        return next((method for method in self.signing_methods if method.uri == uri), None)


def accepted(*, allow_sha1: bool) -> Accepted:
    if allow_sha1:
        return Accepted(_SIGNING_METHODS + _SHA1_SIGNING_METHODS, _DIGEST_METHODS + _SHA1_DIGEST_METHODS)
    return Accepted(_SIGNING_METHODS, _DIGEST_METHODS)


def is_sha1(uri: str) -> bool:
    return uri in SHA1_ALGORITHMS


@dataclass(frozen=True)
class SignatureAlgorithm:
    """What the IdP signs an app's messages with: an app's `signature_algorithm`, its SignatureMethod,
    and the DigestMethod of the same strength."""

    name: str
    signing_method: SigningMethod
    digest_method: DigestMethod


_SIGNATURE_ALGORITHMS = (
    SignatureAlgorithm("rsa-sha256", _SIGNING_METHODS[0], _DIGEST_METHODS[0]),
    SignatureAlgorithm("rsa-sha384", _SIGNING_METHODS[1], _DIGEST_METHODS[1]),
    SignatureAlgorithm("rsa-sha512", _SIGNING_METHODS[2], _DIGEST_METHODS[2]),
    # Signed with the IdP's EC P-256 key, which exists only when the operator made one.
    SignatureAlgorithm("ecdsa-sha256", _SIGNING_METHODS[3], _DIGEST_METHODS[0]),
)
SIGNATURE_ALGORITHM_NAMES = tuple(algorithm.name for algorithm in _SIGNATURE_ALGORITHMS)
DEFAULT_SIGNATURE_ALGORITHM = _SIGNATURE_ALGORITHMS[0]


def signature_algorithm(name: str | None) -> SignatureAlgorithm:
    """The algorithm an app's `signature_algorithm` names; None is the default, RSA-SHA256."""
    if name is None:
        return DEFAULT_SIGNATURE_ALGORITHM
    for algorithm in _SIGNATURE_ALGORITHMS:
        if algorithm.name == name:
            return algorithm
    raise UnknownAlgorithm(f"no signature algorithm {name!r}; known: {', '.join(SIGNATURE_ALGORITHM_NAMES)}")


def signature_algorithm_for(
    signing_method_uris: list[str], digest_method_uris: list[str], *, key_types: frozenset[str] = frozenset({"rsa"})
) -> str | None:
    """The name of the first algorithm an SP's metadata lists (alg:SigningMethod, in its order of
    preference) that the IdP signs with, with a key it has (`key_types`: "rsa", "ec"), and whose
    digest it lists too when it lists any; None if none."""
    for uri in signing_method_uris:
        for algorithm in _SIGNATURE_ALGORITHMS:
            digest_ok = not digest_method_uris or algorithm.digest_method.uri in digest_method_uris
            digest_ok = digest_ok and algorithm.signing_method.key_type in key_types
            if algorithm.signing_method.uri == uri and digest_ok:
                return algorithm.name
    return None
