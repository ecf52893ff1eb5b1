"""A WebAuthn authenticator in software, for tests without a browser: it answers the options the service
gives with the very objects a browser would post back (attestation "none", ES256 keys from
`cryptography`, discoverable credentials, user presence and verification flags, a signature counter),
written from the WebAuthn spec (§6.1 authenticator data, §6.5.4 none attestation, §5.8.1 client data),
not with the library the service uses to verify them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

USER_PRESENT = 0x01
USER_VERIFIED = 0x04
ATTESTED_DATA = 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftwareAuthenticator:
    """`counts`: whether it keeps a signature counter (many synced passkeys send 0 always)."""

    counts: bool = True
    credentials: list[Credential] = field(default_factory=list)

    def create(self, options: dict, origin: str, *, verified: bool = True, challenge: str | None = None) -> str:
        """navigator.credentials.create(): a new ES256 credential for the options' RP and user, as JSON."""
        rp_id, user_handle = options["rp"]["id"], unb64url(options["user"]["id"])
        credential = Credential(os.urandom(32), ec.generate_private_key(ec.SECP256R1()), rp_id, user_handle)
        numbers = credential.key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )
        attested = bytes(16) + len(credential.id).to_bytes(2, "big") + credential.id + cose_key
        flags = USER_PRESENT | ATTESTED_DATA | (USER_VERIFIED if verified else 0)
        auth_data = self._auth_data(rp_id, flags, 0) + attested
        client_data = self._client_data("webauthn.create", challenge or options["challenge"], origin)
        self.credentials.append(credential)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(credential.id),
                "rawId": b64url(credential.id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal"],
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    def get(
        self,
        options: dict,
        origin: str,
        *,
        verified: bool = True,
        credential: Credential | None = None,
        sign_count: int | None = None,
        rp_id: str | None = None,
    ) -> str:
        """navigator.credentials.get(): an assertion by a credential the options allow (any of the RP's
        when they name none), as JSON. `sign_count` forces the counter sent (a cloned key's)."""
        rp_id = rp_id or options["rpId"]
        allowed = {unb64url(item["id"]) for item in options.get("allowCredentials") or []}
        if credential is None:
            credential = next(
                c for c in self.credentials if c.rp_id == options["rpId"] and (not allowed or c.id in allowed)
            )
        if sign_count is None:
            credential.sign_count += 1 if self.counts else 0
            sign_count = credential.sign_count
        flags = USER_PRESENT | (USER_VERIFIED if verified else 0)
        auth_data = self._auth_data(rp_id, flags, sign_count)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64url(credential.id),
                "rawId": b64url(credential.id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(credential.user_handle),
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    @staticmethod
    def _auth_data(rp_id: str, flags: int, sign_count: int) -> bytes:
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + sign_count.to_bytes(4, "big")

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()
