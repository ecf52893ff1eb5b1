"""The service's keys: the SAML signing pairs, the launch-link keys, the data keys and the pairwise-id secret.

They live as files in the keys folder, are made and rolled over by `idp keys ...`, and are read
into memory whole; no request reads them from disk. Each worker looks at the folder every few
seconds (a `stat` of its files, nothing more) and, when a file changed, reads it again: a rollover
reaches every worker and every host that shares the folder without a restart.

Files are only ever replaced by a rename of a complete file written beside them, so a reader sees
the old file or the new one, never half of one. A signing pair is two files named by one line of
`signing-keys`; the pair files are written before that line names them and removed after it no
longer does, and a key read with a certificate that is not its own (a pair caught between its two
renames) is not taken: the worker keeps the keys it had and looks again.

An optional EC P-256 pair (`ecdsa.key` + `ecdsa.crt`, rolled over through `ecdsa-keys` as the RSA
pairs are through `signing-keys`) signs the apps whose `signature_algorithm` is `ecdsa-sha256`.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from idp.errors import ConfigurationError, SigningKeyMissing
from idp.saml.algorithms import DEFAULT_SIGNATURE_ALGORITHM, SignatureAlgorithm
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

log = logging.getLogger(__name__)


# --- what the folder holds ---------------------------------------------------------------------


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


def _read_pair(folder: Path, name: str, family: PairFamily = RSA_FAMILY) -> SigningPair:
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
    pairs = {role: _read_pair(folder, name) for role, name in roles.items()}
    ec_roles = read_signing_roles(folder, EC_FAMILY)
    ec_pairs = {role: _read_pair(folder, name, EC_FAMILY) for role, name in ec_roles.items()}
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


# --- the live ring -------------------------------------------------------------------------------


Report = Callable[[dict[str, Any]], None]


class KeyRing:
    """The keys a worker uses, read again when the folder changes.

    `refresh()` (called at the start of every request) looks at the folder at most every
    `check_every` seconds, and pins the keys for the calling thread, so one request never sees
    two sets of keys. Outside a request the newest set read is used.
    """

    def __init__(self, folder: Path, keys: KeySet, *, check_every: float = 2.0, report: Report | None = None) -> None:
        self.folder = folder
        self.check_every = check_every
        self._latest = keys
        self._state = folder_state(folder)
        self._checked_at = time.monotonic()
        self._loaded_at = time.time()
        self._lock = threading.Lock()
        self._pinned = threading.local()
        self._report = report
        self._reported_at = 0.0
        self._reporting = False
        self.signer: Signer = FollowingSigner(self)

    @classmethod
    def load(cls, folder: Path, *, check_every: float = 2.0, report: Report | None = None) -> KeyRing:
        return cls(folder, read_key_set(folder), check_every=check_every, report=report)

    @property
    def current(self) -> KeySet:
        pinned: KeySet | None = getattr(self._pinned, "keys", None)
        return pinned or self._latest

    def refresh(self) -> KeySet:
        now = time.monotonic()
        if now - self._checked_at >= self.check_every and self._lock.acquire(blocking=False):
            try:
                self._checked_at = now
                self._reload_if_changed()
                self._send_report(now)
            finally:
                self._lock.release()
        self._pinned.keys = self._latest
        return self._latest

    def _reload_if_changed(self) -> None:
        state = folder_state(self.folder)
        if state == self._state:
            return
        try:
            keys = read_key_set(self.folder)
            keys.signer  # noqa: B018 - parse the keys now, not in the middle of a request
            if keys.ecdsa is not None:
                keys.ecdsa_signer  # noqa: B018
        except (ConfigurationError, OSError, ValueError) as error:
            # A file between two renames, or one an operator is editing: keep what works, look again.
            log.warning("keys in %s not reloaded (trying again): %s", self.folder, error)
            return
        changed = keys.version != self._latest.version
        self._latest, self._state, self._loaded_at = keys, state, time.time()
        if changed:
            log.info("keys reloaded from %s: version %s", self.folder, keys.version)
            self._reported_at = 0.0

    def _send_report(self, now: float) -> None:
        """Tell the store what this worker uses: on a change, and every 30 seconds besides. From a
        thread of its own, so that a slow or absent store never holds a request."""
        if self._report is None or self._reporting or (self._reported_at and now - self._reported_at < REPORT_EVERY):
            return
        self._reporting = True
        threading.Thread(target=self._report_now, args=(self._report, now), daemon=True).start()

    def _report_now(self, report: Report, now: float) -> None:
        try:
            sent = self.report()
            report(sent)
            if sent["version"] == self._latest.version:  # else a change came meanwhile: report again
                self._reported_at = now
        except Exception as error:  # the store is out: the next check tries again
            log.warning("could not record which keys this worker uses: %s", error)
        finally:
            self._reporting = False

    def report(self) -> dict[str, Any]:
        keys = self._latest
        return {
            "worker": worker_name(),
            "version": keys.version,
            "signs_with": keys.signing.name,
            "publishes": [pair.name for pair in keys.published_certificates],
            "ecdsa_signs_with": keys.ecdsa.signing.name if keys.ecdsa else None,
            "link_key_seals": keys.links.sealing,
            "data_key_seals": keys.data.sealing,
            "loaded_at": self._loaded_at,
            "reported_at": time.time(),
        }

    # What the services read, from the pinned set.
    @property
    def signing_key_pem(self) -> bytes:
        return self.current.signing.key_pem

    @property
    def certificate_pem(self) -> bytes:
        return self.current.signing.certificate_pem

    @property
    def certificate_base64(self) -> str:
        return self.current.signing.certificate_base64

    @property
    def published_certificates(self) -> list[str]:
        return [pair.certificate_base64 for pair in self.current.published_certificates]

    @property
    def has_ecdsa_key(self) -> bool:
        return self.current.ecdsa is not None

    @property
    def link_keys(self) -> dict[str, bytes]:
        return self.current.links.keys

    @property
    def current_link_key_id(self) -> str:
        return self.current.links.sealing

    @property
    def data_keys(self) -> dict[str, bytes]:
        return self.current.data.keys

    @property
    def pairwise_secret(self) -> bytes:
        return self.current.pairwise_secret


REPORT_EVERY = 30.0
REPORT_TTL = 120.0  # a worker that stopped reporting drops out of `idp keys status`


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class FollowingSigner(Signer):
    """Signs with whatever key the ring has active for this request; `on_signature` is told of each one."""

    def __init__(  # no key of its own: the ring's changes
        self, ring: KeyRing, *, on_signature: Callable[[str, float], None] | None = None
    ) -> None:
        self._ring = ring
        self._on_signature = on_signature

    def _timed(self, kind: str, started: float) -> None:
        if self._on_signature is not None:
            self._on_signature(kind, time.perf_counter() - started)

    def sign_bytes(self, data: bytes) -> bytes:
        started = time.perf_counter()
        signature = self._ring.current.signer.sign_bytes(data)
        self._timed("redirect", started)
        return signature

    def sign(self, element: etree._Element, algorithm: SignatureAlgorithm = DEFAULT_SIGNATURE_ALGORITHM) -> None:
        """Sign with the active key, by the app's `signature_algorithm` (RSA-SHA256 unless given; the
        active EC key for ECDSA-SHA256)."""
        started = time.perf_counter()
        keys = self._ring.current
        (keys.ecdsa_signer if algorithm.signing_method.key_type == "ec" else keys.signer).sign(element, algorithm)
        self._timed("xml", started)


# --- writing the folder ----------------------------------------------------------------------------


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
        _write_signing_roles(folder, {ACTIVE: family.first}, family)
        _remove_pairs(folder, previous - {family.first})
    return [key_path, cert_path]


def rotate(folder: Path, name: str) -> str:
    """Add a key to a rotating key file that seals at once (on one host; several hosts: stage and promote)."""
    path = folder / name
    current = read_rotating_keys(path)
    line = new_key_line()
    lines = [*_rotating_lines(current, exclude=()), line.strip()]
    write_atomically(path, ("\n".join(lines) + "\n").encode())
    return line.split()[0]


def _rotating_lines(keys: RotatingKeys, *, exclude: tuple[str, ...], promote: str | None = None) -> list[str]:
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


def _write_signing_roles(folder: Path, roles: dict[str, str], family: PairFamily = RSA_FAMILY) -> None:
    text = "# What each signing pair NAME.key + NAME.crt does; `idp keys stage|promote|retire` write this.\n"
    text += "".join(f"{role} {roles[role]}\n" for role in SIGNING_ROLES if role in roles)
    write_atomically(folder / family.roles_file, text.encode(), 0o644)


def _remove_pairs(folder: Path, names: set[str]) -> None:
    for name in names:
        (folder / f"{name}.key").unlink(missing_ok=True)
        (folder / f"{name}.crt").unlink(missing_ok=True)


# --- rollover: stage, promote, retire ------------------------------------------------------------

SIGNING, LINK, DATA = "signing", "link", "data"
KINDS = (SIGNING, LINK, DATA)
_ROTATING_FILES = {LINK: LINK_KEYS, DATA: DATA_KEYS}


@dataclass(frozen=True)
class Change:
    """What a rollover step did, and what to tell the service providers about it."""

    kind: str
    changed: str
    tell_sps: str
    keys: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "changed": self.changed, "tell_service_providers": self.tell_sps, "keys": self.keys}


_NO_SP_NEWS = "nothing: these keys never leave the IdP"


def _pairs_of(keys: KeySet, family: PairFamily) -> tuple[SigningPair, SigningPair | None, SigningPair | None]:
    """A family's active, staged and retiring pairs."""
    if family is RSA_FAMILY:
        return keys.signing, keys.staged, keys.retiring
    if keys.ecdsa is None:
        raise ConfigurationError("there is no ECDSA signing key: run `idp keys generate --ecdsa` first")
    return keys.ecdsa.signing, keys.ecdsa.staged, keys.ecdsa.retiring


def _words(family: PairFamily) -> tuple[str, str, str]:
    """How a family's messages name it: its pairs, the flag of its commands, its part of the summary."""
    return ("signing pair", "", "signing") if family is RSA_FAMILY else ("ECDSA signing pair", " --ecdsa", "ecdsa")


def stage(
    folder: Path, kind: str, *, bits: int | None = None, common_name: str | None = None, ecdsa: bool = False
) -> Change:
    """The next key: published (signing) or able to open (link, data), not yet signing or sealing."""
    keys = read_key_set(folder)
    if kind in _ROTATING_FILES:
        rotating = keys.links if kind == LINK else keys.data
        if rotating.staged:
            raise ConfigurationError(f"{kind} key {rotating.staged[0]} is staged already: promote it first")
        line = new_key_line().strip() + f" {STAGED_MARK}"
        path = folder / _ROTATING_FILES[kind]
        write_atomically(path, ("\n".join([*_rotating_lines(rotating, exclude=()), line]) + "\n").encode())
        key_id = line.split()[0]
        return Change(
            kind,
            f"staged {kind} key {key_id}: every worker opens with it within seconds; "
            f"{rotating.sealing} still seals. Run `idp keys promote {kind}` once every worker has it "
            "(`idp keys status`).",
            _NO_SP_NEWS,
            read_rotating_keys(path).summary(),
        )
    family = EC_FAMILY if ecdsa else RSA_FAMILY
    what, flag, part = _words(family)
    signing, staged_pair, _ = _pairs_of(keys, family)
    if staged_pair is not None:
        raise ConfigurationError(f"{what} {staged_pair.name} is staged already: promote it first")
    certificate = signing.certificate
    public_key = certificate.public_key()
    bits = bits or (public_key.key_size if isinstance(public_key, rsa.RSAPublicKey) else 2048)
    if bits not in (2048, 3072, 4096):
        raise ConfigurationError("--bits must be 2048, 3072 or 4096")
    if common_name is None:
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else "idp"
    name = f"{family.first}-{secrets.token_hex(4)}"
    key_pem, cert_pem = make_ecdsa_pair(common_name) if ecdsa else make_signing_pair(bits, common_name)
    write_atomically(folder / f"{name}.key", key_pem)
    write_atomically(folder / f"{name}.crt", cert_pem, 0o644)
    _write_signing_roles(folder, {**read_signing_roles(folder, family), STAGED: name}, family)
    staged = _read_pair(folder, name, family)
    return Change(
        SIGNING,
        f"staged {what} {name}: every metadata document now publishes its certificate beside the "
        f"one of {signing.name}, which still signs.",
        "refresh the IdP's metadata now (or add the new certificate, SHA-256 fingerprint "
        f"{staged.sha256_fingerprint}); after `idp keys promote{flag}` only SPs that did will accept logins.",
        read_key_set(folder).summary()[part],
    )


def promote(folder: Path, kind: str, *, ecdsa: bool = False) -> Change:
    """The staged key signs (or seals) from now on; the one before still verifies (or opens)."""
    keys = read_key_set(folder)
    if kind in _ROTATING_FILES:
        rotating = keys.links if kind == LINK else keys.data
        if not rotating.staged:
            raise ConfigurationError(f"no {kind} key is staged: run `idp keys stage {kind}` first")
        new = rotating.staged[0]
        path = folder / _ROTATING_FILES[kind]
        write_atomically(path, ("\n".join(_rotating_lines(rotating, exclude=(), promote=new)) + "\n").encode())
        return Change(
            kind,
            f"{kind} key {new} seals from now on; {rotating.sealing} still opens what it sealed. "
            f"Run `idp keys retire {kind}` when nothing sealed with it is needed any more.",
            _NO_SP_NEWS,
            read_rotating_keys(path).summary(),
        )
    family = EC_FAMILY if ecdsa else RSA_FAMILY
    what, flag, part = _words(family)
    signing, staged, retiring = _pairs_of(keys, family)
    if staged is None:
        raise ConfigurationError(f"no {what} is staged: run `idp keys stage{flag}` first")
    if retiring is not None:
        raise ConfigurationError(f"{what} {retiring.name} is still retiring: run `idp keys retire{flag}` first")
    _write_signing_roles(folder, {ACTIVE: staged.name, RETIRING: signing.name}, family)
    return Change(
        SIGNING,
        f"{what} {staged.name} signs from now on; the certificate of {signing.name} stays "
        f"published until `idp keys retire{flag}`.",
        f"SPs that refreshed the metadata after `idp keys stage{flag}` notice nothing; any other SP refuses logins "
        f"until it refreshes (new certificate SHA-256 fingerprint {staged.sha256_fingerprint}).",
        read_key_set(folder).summary()[part],
    )


def retire(folder: Path, kind: str, *, ecdsa: bool = False) -> Change:
    """Drop the keys that no longer sign or seal."""
    keys = read_key_set(folder)
    if kind in _ROTATING_FILES:
        rotating = keys.links if kind == LINK else keys.data
        older = tuple(rotating.older)
        if not older:
            raise ConfigurationError(f"no older {kind} key to retire")
        path = folder / _ROTATING_FILES[kind]
        write_atomically(path, ("\n".join(_rotating_lines(rotating, exclude=older)) + "\n").encode())
        lost = (
            "launch links sealed with them stop opening (they last minutes)"
            if kind == LINK
            else "whatever is still sealed or keyed with them stops opening (an email code of the last minutes)"
        )
        return Change(
            kind,
            f"retired {kind} key(s) {', '.join(older)}: {lost}.",
            _NO_SP_NEWS,
            read_rotating_keys(path).summary(),
        )
    family = EC_FAMILY if ecdsa else RSA_FAMILY
    what, flag, part = _words(family)
    _, _, retiring = _pairs_of(keys, family)
    if retiring is None:
        raise ConfigurationError(f"no {what} is retiring: `idp keys promote{flag}` makes one")
    roles = {role: name for role, name in read_signing_roles(folder, family).items() if role != RETIRING}
    _write_signing_roles(folder, roles, family)
    _remove_pairs(folder, {retiring.name})
    return Change(
        SIGNING,
        f"retired {what} {retiring.name}: its certificate is no longer published and its key is deleted.",
        "SPs may refresh the metadata to drop the old certificate; nothing stops working if they do not.",
        read_key_set(folder).summary()[part],
    )
