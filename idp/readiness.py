"""Is this process ready to serve? A real round trip to the store, and keys that can sign.

`/readyz` answers from here; `/healthz` only says the process is alive.
"""

from __future__ import annotations

import datetime
import os
import secrets
import socket
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from idp.errors import IdpError
from idp.keyring import KeyRing
from idp.store import Store

PROBE = "readiness-probe"
PROBE_TTL = 60


@dataclass(frozen=True)
class Readiness:
    """Each part checked (`store`, `keys`) with `ok` or what is wrong with it."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, value in self.checks.items() if value != "ok"]


def check(store: Store, keyring: KeyRing, *, now: float) -> Readiness:
    return Readiness({"store": _store(store), "keys": _keys(keyring, now)})


def _store(store: Store) -> str:
    """Write a value and read it back: a store that only reads (a replica after a failover) is not ready."""
    key = f"{socket.gethostname()}:{os.getpid()}"
    value = secrets.token_hex(8)
    try:
        store.save_transient(PROBE, key, {"value": value}, PROBE_TTL)
        found = store.transient(PROBE, key)
    except IdpError as error:
        return f"unavailable: {error.message}"
    if found is None or found.get("value") != value:
        return "unavailable: a value written was not read back"
    return "ok"


def _keys(keyring: KeyRing, now: float) -> str:
    """The certificate is valid now, and the signing key makes signatures it verifies; link keys are there."""
    certificate = x509.load_pem_x509_certificate(keyring.certificate_pem)
    moment = datetime.datetime.fromtimestamp(now, datetime.UTC)
    if moment < certificate.not_valid_before_utc:
        return f"the signing certificate is not valid before {certificate.not_valid_before_utc.isoformat()}"
    if moment >= certificate.not_valid_after_utc:
        return f"the signing certificate expired at {certificate.not_valid_after_utc.isoformat()}"
    if not keyring.link_keys:
        return "no launch-link key"
    public_key = certificate.public_key()
    private_key = serialization.load_pem_private_key(keyring.signing_key_pem, password=None)
    if not isinstance(public_key, rsa.RSAPublicKey) or not isinstance(private_key, rsa.RSAPrivateKey):
        return "the signing key and certificate must be RSA"
    probe = secrets.token_bytes(16)
    try:
        public_key.verify(
            private_key.sign(probe, padding.PKCS1v15(), hashes.SHA256()), probe, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return "the signing key does not match the signing certificate"
    return "ok"
