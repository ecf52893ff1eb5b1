"""The key ring: rollover by stage, promote and retire, seen by a running ring without a restart."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from lxml import etree

from idp import keyring
from idp.errors import ConfigurationError, IdpError, LinkInvalid
from idp.keyring import KeyRing
from idp.saml.algorithms import signature_algorithm
from idp.saml.links import open_link, seal_link
from idp.saml.names import SAML, SAMLP
from idp.sealing import newest, seal, unseal
from tests.independent import xmlsec1_verifies
from tests.support import wait_until


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    keyring.generate(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def reports() -> list[dict]:
    return []


@pytest.fixture
def ring(folder: Path, reports: list[dict]) -> KeyRing:
    """A ring that looks at the folder on every refresh, as a worker does every few seconds."""
    return KeyRing.load(folder, check_every=0, report=reports.append)


def certificate(folder: Path, name: str) -> bytes:
    return (folder / f"{name}.crt").read_bytes()


def roles(folder: Path) -> dict[str, str]:
    return keyring.read_signing_roles(folder)


def signed_by(ring: KeyRing) -> bytes:
    """A Response signed by the ring's signer, as the flows sign them."""
    root = etree.Element(f"{{{SAMLP}}}Response", {"ID": "_r1", "Version": "2.0"}, nsmap={"samlp": SAMLP})
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = "https://idp.example.com/metadata"
    ring.signer.sign(root)
    return etree.tostring(root)


def test_a_fresh_folder_has_one_pair_that_signs(ring, folder):
    ring.refresh()
    assert roles(folder) == {"active": "signing"}
    assert [pair.name for pair in ring.current.published] == ["signing"]
    assert xmlsec1_verifies(signed_by(ring), certificate(folder, "signing"), "Response")


def test_stage_publishes_a_second_certificate_and_the_old_key_still_signs(ring, folder):
    change = keyring.stage(folder, keyring.SIGNING)
    staged = roles(folder)["staged"]
    ring.refresh()

    keys = ring.current
    assert ring.published_certificates == [keys.signing.certificate_base64, keys.staged.certificate_base64]
    assert xmlsec1_verifies(signed_by(ring), certificate(folder, "signing"), "Response")
    assert not xmlsec1_verifies(signed_by(ring), certificate(folder, staged), "Response")
    assert "refresh the IdP's metadata" in change.tell_sps
    assert staged in change.changed


def test_promote_signs_with_the_staged_key_and_keeps_the_old_certificate_published(ring, folder):
    keyring.stage(folder, keyring.SIGNING)
    staged = roles(folder)["staged"]
    change = keyring.promote(folder, keyring.SIGNING)
    ring.refresh()

    assert roles(folder) == {"active": staged, "retiring": "signing"}
    assert [pair.name for pair in ring.current.published] == [staged, "signing"]
    assert xmlsec1_verifies(signed_by(ring), certificate(folder, staged), "Response")
    assert not xmlsec1_verifies(signed_by(ring), certificate(folder, "signing"), "Response")
    assert "refreshed the metadata after `idp keys stage` notice nothing" in change.tell_sps


def test_retire_drops_the_old_pair_and_deletes_its_key(ring, folder):
    keyring.stage(folder, keyring.SIGNING)
    new = roles(folder)["staged"]
    keyring.promote(folder, keyring.SIGNING)
    keyring.retire(folder, keyring.SIGNING)
    ring.refresh()

    assert roles(folder) == {"active": new}
    assert [pair.name for pair in ring.current.published] == [new]
    assert not (folder / "signing.key").exists() and not (folder / "signing.crt").exists()
    assert xmlsec1_verifies(signed_by(ring), certificate(folder, new), "Response")


def test_each_step_refuses_when_its_turn_has_not_come(folder):
    with pytest.raises(ConfigurationError, match="no signing pair is staged"):
        keyring.promote(folder, keyring.SIGNING)
    with pytest.raises(ConfigurationError, match="no signing pair is retiring"):
        keyring.retire(folder, keyring.SIGNING)
    keyring.stage(folder, keyring.SIGNING)
    with pytest.raises(ConfigurationError, match="staged already"):
        keyring.stage(folder, keyring.SIGNING)
    keyring.promote(folder, keyring.SIGNING)
    keyring.stage(folder, keyring.SIGNING)
    with pytest.raises(ConfigurationError, match="still retiring"):
        keyring.promote(folder, keyring.SIGNING)


def test_a_request_keeps_the_keys_it_started_with(ring, folder):
    """A thread's keys change at its next refresh only, so one request never mixes two sets."""
    ring.refresh()
    before = ring.current
    changed = threading.Event()

    def other_worker_thread() -> None:
        keyring.stage(folder, keyring.SIGNING)
        keyring.promote(folder, keyring.SIGNING)
        ring.refresh()
        changed.set()

    thread = threading.Thread(target=other_worker_thread)
    thread.start()
    thread.join()
    assert changed.is_set()
    assert ring.current is before
    assert ring.refresh() is not before
    assert ring.current.signing.name == roles(folder)["active"]


def test_a_pair_caught_between_its_two_renames_is_not_taken(ring, folder):
    """The key file replaced, its certificate not yet: the ring keeps signing with what it had."""
    ring.refresh()
    before = ring.current
    other_key, _ = keyring.make_signing_pair(2048, "idp")
    keyring.write_atomically(folder / "signing.key", other_key)
    ring.refresh()
    assert ring.current is before
    assert xmlsec1_verifies(signed_by(ring), certificate(folder, "signing"), "Response")


def test_a_file_being_written_is_never_read(ring, folder):
    """Writers fill a dot file beside the real one and rename it: a half-written dot file changes nothing."""
    ring.refresh()
    before = ring.current
    (folder / ".link-keys.partial").write_text("deadbeef AAAA")
    ring.refresh()
    assert ring.current is before


def test_a_ring_that_checks_every_few_seconds_does_not_look_before_then(folder):
    ring = KeyRing.load(folder, check_every=3600)
    keyring.stage(folder, keyring.SIGNING)
    assert ring.refresh().staged is None


def test_the_worker_reports_what_it_uses_and_again_after_a_change(ring, folder, reports):
    ring.refresh()
    wait_until(lambda: len(reports) == 1, timeout=5, what="the first report")
    keyring.stage(folder, keyring.LINK)
    ring.refresh()
    wait_until(lambda: len(reports) == 2, timeout=5, what="the report after the change")
    assert reports[0]["version"] != reports[1]["version"] == keyring.read_key_set(folder).version
    assert reports[1]["worker"].endswith(f":{os.getpid()}")
    assert reports[1]["signs_with"] == "signing"


def test_a_staged_link_key_opens_links_but_does_not_seal_until_promoted(ring, folder):
    ring.refresh()
    old = ring.current_link_key_id
    old_link = seal_link(ring.link_keys, old, user_id="u", app_id="a", brand_id="b", expires_at=2**40)

    keyring.stage(folder, keyring.LINK)
    ring.refresh()
    (staged,) = ring.current.links.staged
    assert ring.current_link_key_id == old
    # Another host that promoted first seals with the staged key: this one opens it already.
    early = seal_link(ring.link_keys, staged, user_id="u", app_id="a", brand_id="b", expires_at=2**40)
    assert open_link(ring.link_keys, early, now=0).user_id == "u"

    keyring.promote(folder, keyring.LINK)
    ring.refresh()
    assert ring.current_link_key_id == staged
    assert open_link(ring.link_keys, old_link, now=0).user_id == "u"

    keyring.retire(folder, keyring.LINK)
    ring.refresh()
    assert list(ring.link_keys) == [staged]
    with pytest.raises(LinkInvalid):
        open_link(ring.link_keys, old_link, now=0)


def test_the_data_key_that_seals_is_the_newest_of_the_ring_while_another_is_staged(ring, folder):
    """What the accounts seal with is `newest(data_keys)`: a staged key must not become it."""
    ring.refresh()
    sealing = newest(ring.data_keys)
    keyring.stage(folder, keyring.DATA)
    ring.refresh()
    assert newest(ring.data_keys) == sealing
    sealed = seal(ring.data_keys, newest(ring.data_keys), b"totp secret", context=b"user-1")

    keyring.promote(folder, keyring.DATA)
    ring.refresh()
    assert newest(ring.data_keys) != sealing
    assert unseal(ring.data_keys, sealed, context=b"user-1") == b"totp secret"


def test_a_store_that_cannot_take_the_report_does_not_hold_the_request(folder):
    started, release = threading.Event(), threading.Event()

    def stuck_store(report: dict) -> None:
        started.set()
        release.wait(10)
        raise TimeoutError("the store does not answer")

    ring = KeyRing.load(folder, check_every=0, report=stuck_store)
    try:
        ring.refresh()
        assert started.wait(5)
        keyring.stage(folder, keyring.SIGNING)
        assert ring.refresh().staged is not None  # while the report still hangs
    finally:
        release.set()


def test_the_key_files_stay_private(folder):
    keyring.stage(folder, keyring.SIGNING)
    keyring.stage(folder, keyring.LINK)
    for path in folder.iterdir():
        if path.suffix == ".key" or path.name in ("link-keys", "data-keys"):
            assert path.stat().st_mode & 0o077 == 0, path.name


@pytest.mark.parametrize("name", ["rsa-sha384", "rsa-sha512"])
def test_the_following_signer_signs_by_the_apps_algorithm_with_whichever_key_is_active(ring, folder, name):
    timed: list[str] = []
    signer = keyring.FollowingSigner(ring, on_signature=lambda kind, _seconds: timed.append(kind))
    algorithm = signature_algorithm(name)

    def signed() -> bytes:
        root = etree.Element(f"{{{SAMLP}}}Response", {"ID": "_r1", "Version": "2.0"}, nsmap={"samlp": SAMLP})
        etree.SubElement(root, f"{{{SAML}}}Issuer").text = "https://idp.example.com/metadata"
        signer.sign(root, algorithm)
        methods = root.xpath("//*[local-name()='SignatureMethod' or local-name()='DigestMethod']/@Algorithm")
        assert methods == [algorithm.signing_method.uri, algorithm.digest_method.uri]
        return etree.tostring(root)

    assert xmlsec1_verifies(signed(), certificate(folder, "signing"), "Response")
    keyring.stage(folder, keyring.SIGNING)
    staged = roles(folder)["staged"]
    keyring.promote(folder, keyring.SIGNING)
    ring.refresh()
    assert xmlsec1_verifies(signed(), certificate(folder, staged), "Response")
    assert timed == ["xml", "xml"]


def ecdsa_signed(ring: KeyRing) -> bytes:
    root = etree.Element(f"{{{SAMLP}}}Response", {"ID": "_r1", "Version": "2.0"}, nsmap={"samlp": SAMLP})
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = "https://idp.example.com/metadata"
    ring.signer.sign(root, signature_algorithm("ecdsa-sha256"))
    return etree.tostring(root)


def test_the_ecdsa_pair_rolls_over_beside_the_rsa_one(ring, folder):
    with pytest.raises(ConfigurationError, match="generate --ecdsa"):
        keyring.stage(folder, keyring.SIGNING, ecdsa=True)
    with pytest.raises(IdpError, match="no ECDSA key") as refused:
        ecdsa_signed(ring)
    assert refused.value.status == 409 and refused.value.field == "signature_algorithm"

    keyring.generate(folder, ecdsa=True)
    with pytest.raises(ConfigurationError, match="--force"):
        keyring.generate(folder, ecdsa=True)
    ring.refresh()
    assert [pair.name for pair in ring.current.published_certificates] == ["signing", "ecdsa"]
    assert xmlsec1_verifies(ecdsa_signed(ring), certificate(folder, "ecdsa"), "Response")
    assert xmlsec1_verifies(signed_by(ring), certificate(folder, "signing"), "Response"), "RSA still signs the rest"

    keyring.stage(folder, keyring.SIGNING, ecdsa=True)
    staged = keyring.read_signing_roles(folder, keyring.EC_FAMILY)["staged"]
    assert staged.startswith("ecdsa-")
    ring.refresh()
    assert [pair.name for pair in ring.current.published_certificates] == ["signing", "ecdsa", staged]
    assert xmlsec1_verifies(ecdsa_signed(ring), certificate(folder, "ecdsa"), "Response")

    change = keyring.promote(folder, keyring.SIGNING, ecdsa=True)
    assert change.keys["active"]["name"] == staged and change.keys["retiring"]["name"] == "ecdsa"
    ring.refresh()
    assert xmlsec1_verifies(ecdsa_signed(ring), certificate(folder, staged), "Response")

    keyring.retire(folder, keyring.SIGNING, ecdsa=True)
    ring.refresh()
    assert [pair.name for pair in ring.current.published_certificates] == ["signing", staged]
    assert not (folder / "ecdsa.key").exists()
    assert roles(folder) == {"active": "signing"}, "the RSA pairs never moved"
    assert ring.report()["ecdsa_signs_with"] == staged


def test_an_rsa_key_where_the_ec_key_belongs_is_not_taken(folder):
    (folder / "signing.key").rename(folder / "ecdsa.key")
    (folder / "signing.crt").rename(folder / "ecdsa.crt")
    keyring.generate(folder)
    with pytest.raises(ConfigurationError, match=r"ecdsa\.key is not an EC key"):
        keyring.read_key_set(folder)
