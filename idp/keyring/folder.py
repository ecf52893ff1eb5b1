"""The keys folder as it is read: the signing pairs (RSA, and an optional EC P-256 family), the
rotating link and data keys, and the pairwise-id secret, checked and held as one KeySet.

A signing pair is two files named by one line of `signing-keys` (or `ecdsa-keys`); a key read with
a certificate that is not its own (a pair caught between its two renames) is not taken.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from idp.errors import ConfigurationError, SigningKeyMissing
from idp.saml.xmlsig import Signer, key_type_of
from idp.sealing import newest

SIGNING_KEY = "signing.key"
SIGNING_CERT = "signing.crt"
SIGNING_PAIRS = "signing-keys"
LINK_KEYS = "link-keys"
DATA_KEYS = "data-keys"
PAIRWISE_SECRET = "pairwise.key"
ROTATING_KEY_FILES = (LINK_KEYS, DATA_KEYS)
GENERATE_HINT = "run `idp keys generate` to create them"

FIRST_PAIR = "signing"  # signing.key + signing.crt, as `idp keys generate` writes them
ECDSA_PAIRS = "ecdsa-keys"
FIRST_ECDSA_PAIR = "ecdsa"  # ecdsa.key + ecdsa.crt, as `idp keys generate --ecdsa` writes them
ACTIVE, STAGED, RETIRING = "active", "staged", "retiring"
SIGNING_ROLES = (ACTIVE, STAGED, RETIRING)
STAGED_MARK = "staged"  # third word of a link-keys or data-keys line: opens, does not seal yet


@dataclass(frozen=True)
class SigningPair:
    """A signing key and its certificate, files `NAME.key` and `NAME.crt`."""

    name: str
    key_pem: bytes
    certificate_pem: bytes

    @functools.cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    @functools.cached_property
    def certificate_base64(self) -> str:
        """The certificate's DER form in base64, as KeyInfo and metadata carry it."""
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()

    @property
    def sha256_fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex(":").upper()

    def summary(self) -> dict[str, str]:
        return {
            "name": self.name,
            "sha256_fingerprint": self.sha256_fingerprint,
            "not_after": self.certificate.not_valid_after_utc.isoformat(),
        }


@dataclass(frozen=True)
class PairFamily:
    """The signing pairs of one key type: the file naming their roles and the name of the first pair."""

    roles_file: str
    first: str
    key_type: str  # "rsa" or "ec", as xmlsig.key_type_of says

    def is_pair_name(self, name: str) -> bool:
        prefix = self.first + "-"
        return name == self.first or (name.startswith(prefix) and name[len(prefix) :].isalnum())


RSA_FAMILY = PairFamily(SIGNING_PAIRS, FIRST_PAIR, "rsa")
EC_FAMILY = PairFamily(ECDSA_PAIRS, FIRST_ECDSA_PAIR, "ec")


@dataclass(frozen=True)
class EcdsaPairs:
    """The EC P-256 pairs: the one that signs the apps asking for ECDSA-SHA256, and any staged or retiring one."""

    signing: SigningPair
    staged: SigningPair | None = None
    retiring: SigningPair | None = None

    @property
    def published(self) -> list[SigningPair]:
        return [pair for pair in (self.signing, self.staged, self.retiring) if pair is not None]


@dataclass(frozen=True)
class RotatingKeys:
    """AES-256 keys by id. `keys` is ordered so that the key that seals comes last (what
    `idp.sealing.newest` picks); every key in it opens. `staged` ones open but do not seal yet."""

    keys: dict[str, bytes]
    staged: tuple[str, ...] = ()

    @property
    def sealing(self) -> str:
        return newest(self.keys)

    @property
    def older(self) -> list[str]:
        return [key_id for key_id in self.keys if key_id != self.sealing and key_id not in self.staged]

    def summary(self) -> dict[str, Any]:
        return {"seals": self.sealing, "staged": list(self.staged), "older": self.older}


@dataclass(frozen=True)
class KeySet:
    """Everything in the keys folder at one moment, read and checked."""

    signing: SigningPair  # signs now
    staged: SigningPair | None  # next: published, does not sign yet
    retiring: SigningPair | None  # signed before: still published, does not sign
    links: RotatingKeys
    data: RotatingKeys
    pairwise_secret: bytes
    ecdsa: EcdsaPairs | None = None  # only when the operator made an EC key

    @property
    def published(self) -> list[SigningPair]:
        """The RSA pairs whose certificates metadata publishes, the one that signs first."""
        return [pair for pair in (self.signing, self.staged, self.retiring) if pair is not None]

    @property
    def published_certificates(self) -> list[SigningPair]:
        """Every pair metadata publishes: the RSA ones (the one that signs first), then the EC ones."""
        return self.published + (self.ecdsa.published if self.ecdsa else [])

    @functools.cached_property
    def signer(self) -> Signer:
        return Signer(self.signing.key_pem, self.signing.certificate_pem)

    @functools.cached_property
    def ecdsa_signer(self) -> Signer:
        """Signs for the apps whose `signature_algorithm` is `ecdsa-sha256`; refused when there is no EC key."""
        if self.ecdsa is None:
            raise SigningKeyMissing(
                "this application is signed with ECDSA-SHA256, and the identity provider has no ECDSA key "
                "(`idp keys generate --ecdsa`); ask its administrator to make one or to change the "
                "application's signature_algorithm"
            )
        return Signer(self.ecdsa.signing.key_pem, self.ecdsa.signing.certificate_pem)

    @functools.cached_property
    def version(self) -> str:
        """A short digest of what signs, what is published and which keys seal and open: equal on
        two workers exactly when they use the same keys."""
        parts = [f"{pair.name}={pair.sha256_fingerprint}" for pair in self.published_certificates]
        for rotating in (self.links, self.data):
            parts.append(",".join(rotating.keys) + "|" + ",".join(rotating.staged))
        return hashlib.sha256(";".join(parts).encode()).hexdigest()[:12]

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "signing": {role: pair.summary() if pair else None for role, pair in self._signing_roles()},
            "ecdsa": self._ecdsa_summary(),
            "link_keys": self.links.summary(),
            "data_keys": self.data.summary(),
        }

    def _signing_roles(self) -> Iterator[tuple[str, SigningPair | None]]:
        yield ACTIVE, self.signing
        yield STAGED, self.staged
        yield RETIRING, self.retiring

    def _ecdsa_summary(self) -> dict[str, Any] | None:
        if self.ecdsa is None:
            return None
        pairs = zip(SIGNING_ROLES, (self.ecdsa.signing, self.ecdsa.staged, self.ecdsa.retiring), strict=True)
        return {role: pair.summary() if pair else None for role, pair in pairs}


def read_signing_roles(folder: Path, family: PairFamily = RSA_FAMILY) -> dict[str, str]:
    """`signing-keys` (or `ecdsa-keys`): one `ROLE NAME` line per pair in use. Without the file,
    `signing.key` and `signing.crt` are the one pair and sign (and `ecdsa.key` and `ecdsa.crt`, when
    they exist; else there is no EC pair: no roles)."""
    path = folder / family.roles_file
    if not path.exists():
        if family is EC_FAMILY and not (folder / f"{family.first}.key").exists():
            return {}
        return {ACTIVE: family.first}
    roles: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 2 or words[0] not in SIGNING_ROLES or words[0] in roles or not family.is_pair_name(words[1]):
            raise ConfigurationError(f"{path}: cannot read the line {line!r}")
        roles[words[0]] = words[1]
    if ACTIVE not in roles:
        raise ConfigurationError(f"{path} names no active signing key")
    return roles


def read_pair(folder: Path, name: str, family: PairFamily = RSA_FAMILY) -> SigningPair:
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.crt"
    if not key_path.exists() or not cert_path.exists():
        raise ConfigurationError(f"no {key_path.name} and {cert_path.name} in {folder}/: {GENERATE_HINT}")
    pair = SigningPair(name, key_path.read_bytes(), cert_path.read_bytes())
    try:
        key = serialization.load_pem_private_key(pair.key_pem, password=None)
        certificate_key = pair.certificate.public_key()
    except ValueError as error:
        raise ConfigurationError(f"{key_path.name} or {cert_path.name} cannot be read: {error}") from None
    if key_type_of(key) != family.key_type:
        raise ConfigurationError(f"{key_path.name} is not an {family.key_type.upper()} key")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != certificate_key.public_bytes(
        serialization.Encoding.DER, public
    ):
        raise ConfigurationError(f"{cert_path.name} is not the certificate of {key_path.name}")
    return pair


def read_rotating_keys(path: Path) -> RotatingKeys:
    """`KEY_ID BASE64 [staged]` lines, oldest first; the last line that is not staged seals."""
    if not path.exists():
        raise ConfigurationError(f"no {path.name} in {path.parent}/: {GENERATE_HINT}")
    ready: dict[str, bytes] = {}
    staged: dict[str, bytes] = {}
    for line in path.read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) not in (2, 3) or (len(words) == 3 and words[2] != STAGED_MARK):
            raise ConfigurationError(f"{path}: cannot read a line (KEY_ID BASE64 [staged])")
        key = base64.b64decode(words[1])
        if len(key) != 32:
            raise ConfigurationError(f"{path}: key {words[0]} is not 256 bits")
        (staged if len(words) == 3 else ready)[words[0]] = key
    if not ready:
        raise ConfigurationError(f"{path} holds no key that seals: {GENERATE_HINT}")
    sealing = newest(ready)
    ordered = {key_id: key for key_id, key in ready.items() if key_id != sealing}
    ordered.update(staged)
    ordered[sealing] = ready[sealing]
    return RotatingKeys(ordered, tuple(staged))


def read_key_set(folder: Path) -> KeySet:
    missing = [name for name in (LINK_KEYS, DATA_KEYS, PAIRWISE_SECRET) if not (folder / name).exists()]
    if missing:
        raise ConfigurationError(f"no {', '.join(missing)} in {folder}/: {GENERATE_HINT}")
    roles = read_signing_roles(folder)
    pairs = {role: read_pair(folder, name) for role, name in roles.items()}
    ec_roles = read_signing_roles(folder, EC_FAMILY)
    ec_pairs = {role: read_pair(folder, name, EC_FAMILY) for role, name in ec_roles.items()}
    ecdsa = EcdsaPairs(ec_pairs[ACTIVE], ec_pairs.get(STAGED), ec_pairs.get(RETIRING)) if ec_pairs else None
    return KeySet(
        signing=pairs[ACTIVE],
        staged=pairs.get(STAGED),
        retiring=pairs.get(RETIRING),
        links=read_rotating_keys(folder / LINK_KEYS),
        data=read_rotating_keys(folder / DATA_KEYS),
        pairwise_secret=base64.b64decode((folder / PAIRWISE_SECRET).read_text().strip()),
        ecdsa=ecdsa,
    )


def folder_state(folder: Path) -> tuple[tuple[str, int, int, int], ...]:
    """What a `stat` of each file says (name, inode, size, mtime): it changes when any file is
    replaced, on this host or on another that shares the folder."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return ()
    state = []
    for entry in entries:
        if entry.name.startswith("."):
            continue  # a file being written
        try:
            stat = entry.stat()
        except OSError:
            continue
        state.append((entry.name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(state))
