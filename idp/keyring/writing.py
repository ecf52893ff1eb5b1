"""Writing the keys folder: new pairs and keys, each file complete before a rename puts it in place."""

from __future__ import annotations

import base64
import datetime
import os
import secrets
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from idp.errors import ConfigurationError
from idp.keyring.folder import (
    ACTIVE,
    EC_FAMILY,
    FIRST_ECDSA_PAIR,
    PAIRWISE_SECRET,
    ROTATING_KEY_FILES,
    RSA_FAMILY,
    SIGNING_KEY,
    SIGNING_ROLES,
    STAGED_MARK,
    PairFamily,
    RotatingKeys,
    read_rotating_keys,
    read_signing_roles,
)


def make_signing_pair(bits: int, common_name: str) -> tuple[bytes, bytes]:
    """A new RSA key and a self-signed certificate for it, both PEM."""
    return _self_signed(rsa.generate_private_key(public_exponent=65537, key_size=bits), common_name)


def make_ecdsa_pair(common_name: str) -> tuple[bytes, bytes]:
    """A new EC P-256 key and a self-signed certificate for it (ECDSA-SHA256), both PEM."""
    return _self_signed(ec.generate_private_key(ec.SECP256R1()), common_name)


def _self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, common_name: str) -> tuple[bytes, bytes]:
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


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a complete file beside `path` (a dot name, which readers skip), then rename it over
    `path`: a reader on any host opens the old file or the new one, never a part of one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def new_key_line() -> str:
    return f"{secrets.token_hex(4)} {base64.b64encode(secrets.token_bytes(32)).decode()}\n"


def has_signing_key(folder: Path, family: PairFamily = RSA_FAMILY) -> bool:
    return (folder / family.roles_file).exists() or (folder / f"{family.first}.key").exists()


def generate(
    folder: Path, *, bits: int = 2048, common_name: str = "idp", force: bool = False, ecdsa: bool = False
) -> list[Path]:
    """Write whatever is missing: the signing pair, the rotating key files, the pairwise secret.

    An existing signing pair is replaced only with `force` (which also forgets a staged or retiring
    pair); asking for nothing new without it is an error. With `ecdsa` the pair in question is the
    EC P-256 one, written beside the RSA pair (which is then only written if missing). The rotating
    keys and the pairwise secret are never replaced here (replacing the latter would change every
    persistent NameID). Returns the files written.
    """
    if bits not in (2048, 3072, 4096):
        raise ConfigurationError("--bits must be 2048, 3072 or 4096")
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in ROTATING_KEY_FILES:
        if not (folder / name).exists():
            write_atomically(folder / name, new_key_line().encode())
            written.append(folder / name)
    if not (folder / PAIRWISE_SECRET).exists():
        write_atomically(folder / PAIRWISE_SECRET, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        written.append(folder / PAIRWISE_SECRET)
    if ecdsa:
        if not has_signing_key(folder):
            written += _write_first_pair(folder, RSA_FAMILY, make_signing_pair(bits, common_name))
        if has_signing_key(folder, EC_FAMILY) and not force:
            raise ConfigurationError(f"{folder / FIRST_ECDSA_PAIR}.key exists; add --force to replace the ECDSA key")
        return _write_first_pair(folder, EC_FAMILY, make_ecdsa_pair(common_name)) + written
    if has_signing_key(folder) and not force:
        if written:
            return written
        raise ConfigurationError(f"{folder / SIGNING_KEY} exists; add --force to replace the signing key")
    return _write_first_pair(folder, RSA_FAMILY, make_signing_pair(bits, common_name)) + written


def _write_first_pair(folder: Path, family: PairFamily, pair: tuple[bytes, bytes]) -> list[Path]:
    """The family's first pair, replacing the active one and forgetting any staged or retiring one."""
    roles_file = folder / family.roles_file
    previous = set(read_signing_roles(folder, family).values()) if roles_file.exists() else set()
    key_path, cert_path = folder / f"{family.first}.key", folder / f"{family.first}.crt"
    write_atomically(key_path, pair[0])
    write_atomically(cert_path, pair[1], 0o644)
    if previous:
        write_signing_roles(folder, {ACTIVE: family.first}, family)
        remove_pairs(folder, previous - {family.first})
    return [key_path, cert_path]


def rotate(folder: Path, name: str) -> str:
    """Add a key to a rotating key file that seals at once (on one host; several hosts: stage and promote)."""
    path = folder / name
    current = read_rotating_keys(path)
    line = new_key_line()
    lines = [*rotating_lines(current, exclude=()), line.strip()]
    write_atomically(path, ("\n".join(lines) + "\n").encode())
    return line.split()[0]


def rotating_lines(keys: RotatingKeys, *, exclude: tuple[str, ...], promote: str | None = None) -> list[str]:
    """The file's lines for `keys`, oldest first, the sealing key last (or `promote` after it)."""
    lines = []
    for key_id, key in keys.keys.items():
        if key_id in exclude or key_id == promote:
            continue
        mark = f" {STAGED_MARK}" if key_id in keys.staged else ""
        lines.append(f"{key_id} {base64.b64encode(key).decode()}{mark}")
    if promote is not None:
        lines.append(f"{promote} {base64.b64encode(keys.keys[promote]).decode()}")
    return lines


def write_signing_roles(folder: Path, roles: dict[str, str], family: PairFamily = RSA_FAMILY) -> None:
    text = "# What each signing pair NAME.key + NAME.crt does; `idp keys stage|promote|retire` write this.\n"
    text += "".join(f"{role} {roles[role]}\n" for role in SIGNING_ROLES if role in roles)
    write_atomically(folder / family.roles_file, text.encode(), 0o644)


def remove_pairs(folder: Path, names: set[str]) -> None:
    for name in names:
        (folder / f"{name}.key").unlink(missing_ok=True)
        (folder / f"{name}.crt").unlink(missing_ok=True)
