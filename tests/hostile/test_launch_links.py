"""Launch links fed hostile input: any string is a LinkInvalid, a sealed link changed in any byte no
longer opens, changed as text it opens as itself or not at all (base64 leaves some characters
slack), and over HTTP every such hash answers the plain 400 page, never a 5xx."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from idp.errors import LinkInvalid
from idp.keyring import KeyRing
from idp.saml.links import open_link, seal_link
from tests.api.helpers import page_text, saml_app
from tests.hostile.saml_inputs import HOSTILE_TEXT, utf8

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
NOW = 1_800_000_000
INVALID_PAGE = "This link is invalid or has expired."


@pytest.fixture(scope="module")
def link_keys(keys_dir) -> dict[str, bytes]:
    return KeyRing.load(keys_dir).link_keys


def sealed(keys: dict[str, bytes]) -> str:
    return seal_link(keys, next(reversed(keys)), user_id="u1", app_id="a1", brand_id="b1", expires_at=NOW + 600)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def body_of(link_hash: str) -> tuple[str, bytes]:
    key_id, _, body = link_hash.partition(".")
    return key_id, base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


LINK_LIKE = st.one_of(
    HOSTILE_TEXT,
    st.binary(max_size=80).map(b64url),
    st.tuples(HOSTILE_TEXT, st.binary(max_size=80).map(b64url)).map(".".join),
    st.sampled_from([".", "..", "k.", ".AAAA", "k.====", "k.\x00", "k." + "A" * 100_000]),
)


@SETTINGS
@given(link_hash=LINK_LIKE)
def test_any_string_is_an_invalid_link(link_keys, link_hash) -> None:
    with pytest.raises(LinkInvalid):
        open_link(link_keys, link_hash, now=NOW)


@st.composite
def changed_bytes(draw: st.DrawFn, raw: bytes) -> bytes:
    """iv ‖ ciphertext ‖ tag with a bit flipped, cut short, extended, or a part swapped out."""
    operation = draw(st.integers(0, 3))
    if operation == 0:
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([raw[at] ^ (1 << draw(st.integers(0, 7)))]) + raw[at + 1 :]
    if operation == 1:
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if operation == 2:
        return raw + draw(st.binary(min_size=1, max_size=32))
    start = draw(st.integers(0, len(raw) - 1))
    end = draw(st.integers(start + 1, len(raw)))
    replacement = draw(st.binary(min_size=end - start, max_size=end - start).filter(lambda b: b != raw[start:end]))
    return raw[:start] + replacement + raw[end:]


@SETTINGS
@given(data=st.data())
def test_a_sealed_link_changed_in_any_byte_is_invalid(link_keys, data) -> None:
    key_id, raw = body_of(sealed(link_keys))
    changed = data.draw(changed_bytes(raw))
    with pytest.raises(LinkInvalid):
        open_link(link_keys, f"{key_id}.{b64url(changed)}", now=NOW)


@st.composite
def changed_text(draw: st.DrawFn, link_hash: str) -> str:
    """The link as text with a character flipped, removed or added, cut short, extended, or its key id changed."""
    operation = draw(st.integers(0, 4))
    at = draw(st.integers(0, len(link_hash) - 1))
    if operation == 0:
        return link_hash[:at] + chr(ord(link_hash[at]) ^ draw(st.integers(1, 127))) + link_hash[at + 1 :]
    if operation == 1:
        return link_hash[:at] + link_hash[at + 1 :]
    if operation == 2:
        return link_hash[:at] + draw(HOSTILE_TEXT) + link_hash[at:]
    if operation == 3:
        return link_hash[:at]
    return draw(HOSTILE_TEXT) + link_hash.partition(".")[1] + link_hash.partition(".")[2]


def opens_as(keys: dict[str, bytes], link_hash: str, original: str) -> bool:
    """Whether `link_hash` opens, now, to exactly the link `original` is (base64 leaves some characters slack)."""
    now = time.time()
    try:
        return open_link(keys, link_hash, now=now) == open_link(keys, original, now=now)
    except LinkInvalid:
        return False


@SETTINGS
@given(data=st.data())
def test_a_sealed_link_changed_as_text_is_invalid_or_the_same_link(link_keys, data) -> None:
    original = sealed(link_keys)
    changed = data.draw(changed_text(original))
    try:
        opened = open_link(link_keys, changed, now=NOW)
    except LinkInvalid:
        return
    assert opened == open_link(link_keys, original, now=NOW)


# ---------------------------------------------------------------------------------------------
# Over HTTP
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def minted(apps, org):
    """Two open_urls of the org's agent for a SAML app: one to change, one that must still work."""
    apps.created(org.admin, org.brand, saml_app())

    def one() -> str:
        (listed,) = apps.listed(org.agent, org.brand)
        return parse_qs(urlsplit(listed["open_url"]).query)["hash"][0]

    return one(), one()


def assert_invalid_link_page(response) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    assert INVALID_PAGE in page_text(response.get_data(as_text=True))


@SETTINGS
@given(link_hash=LINK_LIKE, encoded=st.booleans())
@example(link_hash="\ud800", encoded=False)
def test_any_hash_answers_the_invalid_link_page(client, link_hash, encoded) -> None:
    """Sent URL-encoded, or as its raw bytes (a lone surrogate as the invalid UTF-8 that encodes it)."""
    raw = utf8(link_hash)
    if encoded:
        assert_invalid_link_page(client.get("/sso_applications/open?hash=" + quote(raw, safe="")))
        return
    response = client.get("/sso_applications/open", environ_overrides={"QUERY_STRING": "hash=" + raw.decode("latin-1")})
    try:
        raw.decode()
    except UnicodeDecodeError:
        # Not UTF-8 at all: refused as a malformed request, still as a page.
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert "not valid UTF-8" in page_text(response.get_data(as_text=True))
    else:
        assert_invalid_link_page(response)


@SETTINGS
@given(data=st.data())
def test_a_changed_link_answers_the_invalid_link_page_or_opens_as_itself(client, app, minted, data) -> None:
    original, _ = minted
    keys = app.extensions["idp"].keyring.link_keys
    changed = data.draw(changed_text(original))
    response = client.get("/sso_applications/open?hash=" + quote(utf8(changed), safe=""))
    if response.status_code == 200:
        assert opens_as(keys, changed, original), changed
    else:
        assert_invalid_link_page(response)


def test_the_links_changed_above_work_when_unchanged(client, minted) -> None:
    _, untouched = minted
    response = client.get("/sso_applications/open?hash=" + quote(untouched, safe=""))
    assert response.status_code == 200 and "SAMLResponse" in response.get_data(as_text=True)


def test_opening_the_same_link_twice_is_the_invalid_link_page(client, minted) -> None:
    original, _ = minted
    assert client.get("/sso_applications/open?hash=" + quote(original, safe="")).status_code == 200
    assert_invalid_link_page(client.get("/sso_applications/open?hash=" + quote(original, safe="")))
