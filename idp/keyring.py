"""The service's keys: the SAML signing pair, the launch-link keys and the pairwise-id secret.

They live as files in the keys folder, are made by `idp keys generate`, and are
loaded once at start; no request reads them from disk.
"""

from __future__ import annotations

import base64
import datetime
import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from idp.errors import ConfigurationError
from idp.sealing import newest

SIGNING_KEY = "signing.key"
SIGNING_CERT = "signing.crt"
LINK_KEYS = "link-keys"
DATA_KEYS = "data-keys"
PAIRWISE_SECRET = "pairwise.key"
ROTATING_KEY_FILES = (LINK_KEYS, DATA_KEYS)
GENERATE_HINT = "run `idp keys generate` to create them"


@dataclass(frozen=True)
class KeyRing:
    signing_key_pem: bytes
    certificate_pem: bytes
    link_keys: dict[str, bytes]  # key id -> 256-bit AES key; the last one seals new links
    data_keys: dict[str, bytes]  # the same, for secrets at rest (TOTP secrets, email-code hashes)
    pairwise_secret: bytes

    @property
    def current_link_key_id(self) -> str:
        return newest(self.link_keys)

    @functools.cached_property
    def certificate_base64(self) -> str:
        """The certificate's DER form in base64, as KeyInfo and metadata carry it."""
        cert = x509.load_pem_x509_certificate(self.certificate_pem)
        return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

    @classmethod
    def load(cls, folder: Path) -> KeyRing:
        missing = [
            name for name in (SIGNING_KEY, SIGNING_CERT, LINK_KEYS, PAIRWISE_SECRET) if not (folder / name).exists()
        ]
        if missing:
            raise ConfigurationError(f"no {', '.join(missing)} in {folder}/: {GENERATE_HINT}")
        return cls(
            signing_key_pem=(folder / SIGNING_KEY).read_bytes(),
            certificate_pem=(folder / SIGNING_CERT).read_bytes(),
            link_keys=_parse_key_lines(folder / LINK_KEYS),
            data_keys=_parse_key_lines(folder / DATA_KEYS),
            pairwise_secret=base64.b64decode((folder / PAIRWISE_SECRET).read_text().strip()),
        )


def _parse_key_lines(path: Path) -> dict[str, bytes]:
    """`KEY_ID BASE64` lines, oldest first."""
    keys: dict[str, bytes] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key_id, encoded = line.split()
            keys[key_id] = base64.b64decode(encoded)
    if not keys:
        raise ConfigurationError(f"{path} holds no key: {GENERATE_HINT}")
    return keys


def make_signing_pair(bits: int, common_name: str) -> tuple[bytes, bytes]:
    """A new RSA key and a self-signed certificate for it, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def new_key_line() -> str:
    return f"{secrets.token_hex(4)} {base64.b64encode(secrets.token_bytes(32)).decode()}\n"


def generate(folder: Path, *, bits: int = 2048, common_name: str = "idp", force: bool = False) -> list[Path]:
    """Write whatever is missing: the signing pair, the rotating key files, the pairwise secret.

    An existing signing pair is replaced only with `force`; asking for nothing new without it
    is an error.  The rotating keys and the pairwise secret are never replaced here (replacing
    the latter would change every persistent NameID).  Returns the files written.
    """
    if bits not in (2048, 3072, 4096):
        raise ConfigurationError("--bits must be 2048, 3072 or 4096")
    folder.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = folder / SIGNING_KEY, folder / SIGNING_CERT
    written: list[Path] = []
    for name in ROTATING_KEY_FILES:
        if not (folder / name).exists():
            _write_secret(folder / name, new_key_line().encode())
            written.append(folder / name)
    if not (folder / PAIRWISE_SECRET).exists():
        _write_secret(folder / PAIRWISE_SECRET, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        written.append(folder / PAIRWISE_SECRET)
    if key_path.exists() and not force:
        if written:
            return written
        raise ConfigurationError(f"{key_path} exists; add --force to replace the signing key")
    key_pem, cert_pem = make_signing_pair(bits, common_name)
    _write_secret(key_path, key_pem)
    cert_path.write_bytes(cert_pem)
    return [key_path, cert_path, *written]


def rotate(folder: Path, name: str) -> str:
    """Add a key to a rotating key file: it seals from now on, older keys still open until removed."""
    path = folder / name
    if not path.exists():
        raise ConfigurationError(f"no {name} in {folder}/: {GENERATE_HINT}")
    line = new_key_line()
    with path.open("a") as handle:
        handle.write(line)
    return line.split()[0]
