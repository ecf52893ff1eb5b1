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

The package: folder.py (reading and checking the folder), ring.py (the live ring and its signer),
writing.py (new keys, written atomically), rollover.py (stage, promote, retire).
"""

from __future__ import annotations

from idp.keyring.folder import (
    ACTIVE,
    DATA_KEYS,
    EC_FAMILY,
    ECDSA_PAIRS,
    FIRST_ECDSA_PAIR,
    FIRST_PAIR,
    GENERATE_HINT,
    LINK_KEYS,
    PAIRWISE_SECRET,
    RETIRING,
    ROTATING_KEY_FILES,
    RSA_FAMILY,
    SIGNING_CERT,
    SIGNING_KEY,
    SIGNING_PAIRS,
    SIGNING_ROLES,
    STAGED,
    STAGED_MARK,
    EcdsaPairs,
    KeySet,
    PairFamily,
    RotatingKeys,
    SigningPair,
    folder_state,
    read_key_set,
    read_rotating_keys,
    read_signing_roles,
)
from idp.keyring.ring import (
    REPORT_EVERY,
    REPORT_TTL,
    FollowingSigner,
    KeyRing,
    Report,
    worker_name,
)
from idp.keyring.rollover import (
    DATA,
    KINDS,
    LINK,
    SIGNING,
    Change,
    promote,
    retire,
    stage,
)
from idp.keyring.writing import (
    generate,
    has_signing_key,
    make_ecdsa_pair,
    make_signing_pair,
    new_key_line,
    rotate,
    write_atomically,
)

__all__ = [
    "ACTIVE",
    "DATA",
    "DATA_KEYS",
    "ECDSA_PAIRS",
    "EC_FAMILY",
    "FIRST_ECDSA_PAIR",
    "FIRST_PAIR",
    "GENERATE_HINT",
    "KINDS",
    "LINK",
    "LINK_KEYS",
    "PAIRWISE_SECRET",
    "REPORT_EVERY",
    "REPORT_TTL",
    "RETIRING",
    "ROTATING_KEY_FILES",
    "RSA_FAMILY",
    "SIGNING",
    "SIGNING_CERT",
    "SIGNING_KEY",
    "SIGNING_PAIRS",
    "SIGNING_ROLES",
    "STAGED",
    "STAGED_MARK",
    "Change",
    "EcdsaPairs",
    "FollowingSigner",
    "KeyRing",
    "KeySet",
    "PairFamily",
    "Report",
    "RotatingKeys",
    "SigningPair",
    "folder_state",
    "generate",
    "has_signing_key",
    "make_ecdsa_pair",
    "make_signing_pair",
    "new_key_line",
    "promote",
    "read_key_set",
    "read_rotating_keys",
    "read_signing_roles",
    "retire",
    "rotate",
    "stage",
    "worker_name",
    "write_atomically",
]
