"""idp.accounts.totp against independent TOTP generators: pyotp, and oathtool when installed."""

from __future__ import annotations

import base64
import random
import re
import shutil
import subprocess

import pyotp
import pytest

from idp.accounts import totp

STEP = 30
# A fixed seed: the same "random" secrets and times on every run, so that a failure can be replayed.
_random = random.Random(6238)
SAMPLES = [
    (base64.b32encode(_random.randbytes(_random.choice([16, 20, 32]))).decode(), _random.randrange(0, 2**33))
    for _ in range(200)
]
NOW = 1_700_000_015.0  # the middle of a step
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# The characters RFC 3986 allows in a URI; a space, for one, must be percent-encoded.
URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def pyotp_code(secret: str, at: float) -> str:
    return pyotp.TOTP(secret).at(at)


@pytest.mark.parametrize(("secret", "at"), SAMPLES)
def test_code_at_agrees_with_pyotp(secret: str, at: int):
    assert totp.code_at(secret, at // STEP) == pyotp_code(secret, at)


def test_code_at_accepts_secrets_without_padding_or_in_lower_case():
    secret = base64.b32encode(bytes(range(16))).decode()  # 26 characters and six "=" of padding
    assert secret.endswith("=")
    unpadded = secret.rstrip("=")
    assert totp.code_at(unpadded, 1234) == totp.code_at(unpadded.lower(), 1234) == pyotp_code(unpadded, 1234 * STEP)


def test_code_at_matches_the_rfc_6238_sha1_vectors():
    # RFC 6238 appendix B, SHA-1, key "12345678901234567890", as 8-digit codes; their last six digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    for at, eight_digits in [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924")]:
        assert totp.code_at(secret, at // STEP) == eight_digits[-6:]


def test_new_secrets_are_160_random_bits_pyotp_can_use():
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert len(base64.b32decode(secret)) == 20
        assert pyotp.TOTP(secret).at(NOW) == totp.code_at(secret, int(NOW // STEP))


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_matching_step_accepts_a_code_within_one_step(steps: int):
    code = pyotp_code(SECRET, NOW + steps * STEP)
    assert totp.matching_step(SECRET, code, now=NOW) == int(NOW // STEP) + steps


@pytest.mark.parametrize("steps", [-3, -2, 2, 3])
def test_matching_step_refuses_a_code_two_or_more_steps_away(steps: int):
    code = pyotp_code(SECRET, NOW + steps * STEP)
    assert code not in {pyotp_code(SECRET, NOW + k * STEP) for k in (-1, 0, 1)}, "pick another SECRET"
    assert totp.matching_step(SECRET, code, now=NOW) is None


def test_matching_step_holds_at_both_edges_of_a_step():
    start = 1_700_000_010.0  # a step boundary
    assert start % STEP == 0
    for now in (start, start + STEP - 0.001):
        for steps in (-1, 0, 1):
            code = pyotp_code(SECRET, now + steps * STEP)
            assert totp.matching_step(SECRET, code, now=now) == int(now // STEP) + steps


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda code: code[:-1], id="five-digits"),
        pytest.param(lambda code: code + "0", id="seven-digits"),
        pytest.param(lambda code: "", id="empty"),
        pytest.param(lambda code: code[:-1] + "a", id="a-letter"),
        pytest.param(lambda code: f" {code[1:]}", id="a-space"),
        pytest.param(lambda code: f"-{code[1:]}", id="a-sign"),
        pytest.param(lambda code: f"{code} ", id="trailing-space"),
    ],
)
def test_matching_step_refuses_what_is_not_six_digits(transform):
    assert totp.matching_step(SECRET, transform(pyotp_code(SECRET, NOW)), now=NOW) is None


@pytest.mark.parametrize(
    "digits",
    [
        pytest.param("\u0660\u0661\u0662\u0663\u0664\u0665", id="arabic-indic"),
        pytest.param("\uff10\uff11\uff12\uff13\uff14\uff15", id="fullwidth"),
        pytest.param("\u00b2\u00b3\u00b9\u00b2\u00b3\u00b9", id="superscript"),
    ],
)
def test_matching_step_refuses_digits_that_are_not_ascii(digits: str):
    # str.isdigit() holds for these; they must be refused like any other wrong code, not raise.
    assert digits.isdigit()
    assert totp.matching_step(SECRET, digits, now=NOW) is None


def test_provisioning_uri_round_trips_through_pyotp():
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, account="ada.agent+mfa@example.com", issuer="Acme Realty Sign In")
    assert URI_CHARACTERS.fullmatch(uri), uri
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert (parsed.secret, parsed.issuer, parsed.name) == (secret, "Acme Realty Sign In", "ada.agent+mfa@example.com")
    assert (parsed.digits, parsed.interval, parsed.digest().name) == (6, 30, "sha1")
    assert parsed.at(NOW) == totp.code_at(secret, int(NOW // STEP))


def test_provisioning_uri_is_what_pyotp_would_write():
    secret = totp.new_secret()
    ours = pyotp.parse_uri(totp.provisioning_uri(secret, account="ada@example.com", issuer="Acme Realty"))
    theirs = pyotp.parse_uri(pyotp.TOTP(secret).provisioning_uri(name="ada@example.com", issuer_name="Acme Realty"))
    assert (ours.secret, ours.issuer, ours.name, ours.digits, ours.interval) == (
        theirs.secret,
        theirs.issuer,
        theirs.name,
        theirs.digits,
        theirs.interval,
    )


@pytest.fixture
def oathtool() -> str:
    binary = shutil.which("oathtool")
    if binary is None:
        pytest.skip("oathtool is not installed (Debian package oathtool)")
    return binary


@pytest.mark.parametrize(("secret", "at"), SAMPLES[:20])
def test_code_at_agrees_with_oathtool(oathtool: str, secret: str, at: int):
    result = subprocess.run(
        [oathtool, "--totp", "--base32", "--digits=6", "--time-step-size=30s", f"--now=@{at}", secret],
        capture_output=True,
        text=True,
        check=True,
    )
    assert totp.code_at(secret, at // STEP) == result.stdout.strip()
