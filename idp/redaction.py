"""Taking secrets out of text bound for a log: query parameters that carry a credential or a message.

A launch link is a bearer credential until it is used (and for its whole life when links may be
reused), and SAML messages, codes and tokens are no better: whoever reads a log that holds one can
replay it. Only the value goes; the name stays, so a log still shows what was asked.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# Query parameters whose values are secrets or whole protocol messages.
SECRET_PARAMETERS = (
    "hash",  # a launch link's sealed payload
    "SAMLRequest",
    "SAMLResponse",
    "RelayState",
    "Signature",
    "code",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "client_secret",
    "password",
    "chain",  # the single-logout chain still to visit
    "request",  # the key of an AuthnRequest kept while the user signs in
)

# Headers whose whole value is a credential.
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-2fa-code")

# A parameter starts a query, follows a separator, or does either percent-encoded inside another
# parameter's value (a return URL carrying a link); the value runs to the next separator or space.
_PARAMETER = re.compile(
    r"(?P<lead>^|[?&;]|%3F|%26)"
    r"(?P<name>" + "|".join(re.escape(name) for name in SECRET_PARAMETERS) + r")"
    r"(?P<equals>=|%3D)"
    r"[^&;#\s\"']+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with the value of every secret query parameter replaced by REDACTED.

    Works on a URL, a query string, a request line or any message that quotes one.
    """
    if "=" not in text and "%3" not in text:
        return text  # every secret parameter has its `=` (or `%3D`): nothing to take out, and no regex run
    return _PARAMETER.sub(lambda found: found["lead"] + found["name"] + found["equals"] + REDACTED, text)
