"""Launch links: sealed, authenticated, expiring, rotating."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from urllib.parse import unquote

import pytest

from idp.applications.links import LaunchLinks
from idp.errors import LinkExpired, LinkInvalid
from idp.saml.links import open_link, seal_link

NOW = 1_800_000_000


@pytest.fixture
def keys() -> dict[str, bytes]:
    return {"old1": secrets.token_bytes(32), "new2": secrets.token_bytes(32)}


def seal(keys: dict[str, bytes], key_id: str = "new2", expires_at: int = NOW + 600) -> str:
    return seal_link(keys, key_id, user_id="u1", app_id="a1", brand_id="b1", expires_at=expires_at)


def test_a_sealed_link_opens_to_what_was_sealed(keys):
    link = open_link(keys, seal(keys), now=NOW)
    assert (link.user_id, link.app_id, link.brand_id, link.expires_at) == ("u1", "a1", "b1", NOW + 600)


def test_the_hash_leads_with_its_key_id_and_hides_its_contents(keys):
    link_hash = seal_link(
        keys, "new2", user_id="user-ada-lovelace", app_id="app-listings", brand_id="b1", expires_at=NOW + 600
    )
    assert link_hash.startswith("new2.")
    assert "user-ada-lovelace" not in link_hash and "app-listings" not in link_hash


def test_every_link_has_its_own_nonce(keys):
    assert open_link(keys, seal(keys), now=NOW).nonce != open_link(keys, seal(keys), now=NOW).nonce


def test_links_sealed_with_an_older_key_still_open_after_rotation(keys):
    assert open_link(keys, seal(keys, "old1"), now=NOW).user_id == "u1"


def test_a_link_sealed_with_a_key_no_longer_held_is_invalid(keys):
    link_hash = seal(keys, "old1")
    del keys["old1"]
    with pytest.raises(LinkInvalid):
        open_link(keys, link_hash, now=NOW)


@pytest.mark.parametrize("position", [6, 20, -3])
def test_a_tampered_link_is_invalid(keys, position):
    link_hash = seal(keys)
    flipped = "A" if link_hash[position] != "A" else "B"
    with pytest.raises(LinkInvalid):
        open_link(keys, link_hash[:position] + flipped + link_hash[position + 1 :], now=NOW)


def test_swapping_the_key_id_breaks_the_seal(keys):
    keys["new2"] = keys["old1"]  # same key bytes under another id: the id is authenticated too
    body = seal(keys, "old1").split(".", 1)[1]
    with pytest.raises(LinkInvalid):
        open_link(keys, f"new2.{body}", now=NOW)


@pytest.mark.parametrize("garbage", ["", ".", "new2.", "new2.!!!", "nokey", "new2.AAAA"])
def test_malformed_hashes_are_invalid(keys, garbage):
    with pytest.raises(LinkInvalid):
        open_link(keys, garbage, now=NOW)


def test_a_link_expires_at_its_expiry(keys):
    link_hash = seal(keys, expires_at=NOW + 10)
    assert open_link(keys, link_hash, now=NOW + 9.9)
    with pytest.raises(LinkExpired):
        open_link(keys, link_hash, now=NOW + 10)


# minted before a revocation?


@pytest.fixture
def links(keys) -> LaunchLinks:
    settings = SimpleNamespace(base_url="https://idp.example.com", link_ttl=600)
    keyring = SimpleNamespace(link_keys=keys, current_link_key_id="new2")
    return LaunchLinks(settings, keyring)  # type: ignore[arg-type]


def minted(links: LaunchLinks, at: float):
    url = links.url(user_id="u1", app_id="a1", brand_id="b1", mfa=False, now=at)
    return links.open(unquote(url.split("hash=", 1)[1]), now=at)


def test_a_link_minted_later_in_the_second_of_a_revocation_is_not_minted_before_it(links):
    revoked_at = NOW + 0.25
    assert not links.minted_before(minted(links, NOW + 0.75), revoked_at)


def test_a_link_minted_earlier_in_the_same_second_or_at_the_very_moment_is(links):
    revoked_at = NOW + 0.25
    assert links.minted_before(minted(links, NOW + 0.1), revoked_at)
    assert links.minted_before(minted(links, revoked_at), revoked_at)


def test_a_link_sealed_without_its_minting_time_is_dated_from_its_expiry(keys, links):
    link = open_link(keys, seal(keys, expires_at=NOW + 600), now=NOW)
    assert link.minted_at is None
    assert links.minted_before(link, NOW + 0.5)
    assert not links.minted_before(link, NOW - 0.5)
