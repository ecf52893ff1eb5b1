"""Rolling keys over without an outage: stage, promote, retire, for the signing pairs (either
family) and the link and data keys; each step says what changed and what to tell the SPs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from idp.errors import ConfigurationError
from idp.keyring.folder import (
    ACTIVE,
    DATA_KEYS,
    EC_FAMILY,
    LINK_KEYS,
    RETIRING,
    RSA_FAMILY,
    STAGED,
    STAGED_MARK,
    KeySet,
    PairFamily,
    SigningPair,
    read_key_set,
    read_pair,
    read_rotating_keys,
    read_signing_roles,
)
from idp.keyring.writing import (
    make_ecdsa_pair,
    make_signing_pair,
    new_key_line,
    remove_pairs,
    rotating_lines,
    write_atomically,
    write_signing_roles,
)

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
        write_atomically(path, ("\n".join([*rotating_lines(rotating, exclude=()), line]) + "\n").encode())
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
    write_signing_roles(folder, {**read_signing_roles(folder, family), STAGED: name}, family)
    staged = read_pair(folder, name, family)
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
        write_atomically(path, ("\n".join(rotating_lines(rotating, exclude=(), promote=new)) + "\n").encode())
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
    write_signing_roles(folder, {ACTIVE: staged.name, RETIRING: signing.name}, family)
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
        write_atomically(path, ("\n".join(rotating_lines(rotating, exclude=older)) + "\n").encode())
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
    write_signing_roles(folder, roles, family)
    remove_pairs(folder, {retiring.name})
    return Change(
        SIGNING,
        f"retired {what} {retiring.name}: its certificate is no longer published and its key is deleted.",
        "SPs may refresh the metadata to drop the old certificate; nothing stops working if they do not.",
        read_key_set(folder).summary()[part],
    )
