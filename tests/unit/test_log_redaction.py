"""What idp.redaction takes out of a log line, and what it leaves."""

from __future__ import annotations

import io
import logging

import pytest

from idp.gunicorn_logging import RedactingFilter
from idp.redaction import SECRET_PARAMETERS, redact


@pytest.mark.parametrize("name", SECRET_PARAMETERS)
def test_each_secret_parameter_loses_its_value_and_keeps_its_name(name):
    assert redact(f"GET /path?{name}=s3cr3t%2B&page=2 HTTP/1.1") == f"GET /path?{name}=[redacted]&page=2 HTTP/1.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hash=k1.AbC-_d&x=1", "hash=[redacted]&x=1"),  # a query string on its own
        (
            "/saml/sso?SAMLRequest=fZ%2B&RelayState=a&SigAlg=rsa&Signature=Zz%3D",
            "/saml/sso?SAMLRequest=[redacted]&RelayState=[redacted]&SigAlg=rsa&Signature=[redacted]",
        ),
        ("/p?samlrequest=abc", "/p?samlrequest=[redacted]"),  # names in any case
        ("/p?a=1;code=abc", "/p?a=1;code=[redacted]"),
        (
            "/login?next=%2Fsso_applications%2Fopen%3Fhash%3Dsecret",
            "/login?next=%2Fsso_applications%2Fopen%3Fhash%3D[redacted]",
        ),
        ("'GET /open?hash=secret'", "'GET /open?hash=[redacted]'"),
        ("/p?hash=&x=1", "/p?hash=&x=1"),  # nothing to hide
        ("/p?tokens=1&mytoken=2&hashes=3", "/p?tokens=1&mytoken=2&hashes=3"),  # other names that merely look alike
        ("the worker exited with code=1", "the worker exited with code=1"),  # not a query
        ("/p?hash=[redacted]", "/p?hash=[redacted]"),  # redacting twice changes nothing
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_the_filter_redacts_the_formatted_message_and_the_traceback():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError("bad link /sso_applications/open?hash=in-traceback")
        except ValueError:
            log.exception("Error handling request %s", "/sso_applications/open?hash=in-message")
    finally:
        log.removeHandler(handler)
    written = out.getvalue()
    assert "Error handling request /sso_applications/open?hash=[redacted]" in written
    assert "ValueError: bad link /sso_applications/open?hash=[redacted]" in written
    assert "in-message" not in written and "in-traceback" not in written
