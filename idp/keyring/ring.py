"""The live key ring of a worker: the keys it uses, read again when the folder changes, reported
to the store for `idp keys status`, and the signer that follows them."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from idp.errors import ConfigurationError
from idp.keyring.folder import KeySet, folder_state, read_key_set
from idp.saml.algorithms import DEFAULT_SIGNATURE_ALGORITHM, SignatureAlgorithm
from idp.saml.xmlsig import Signer

log = logging.getLogger(__name__)

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
