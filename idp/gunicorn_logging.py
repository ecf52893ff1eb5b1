"""gunicorn's logger, with the secrets of idp.redaction taken out of every line it writes.

The access log quotes request lines and Referers, which carry launch links, SAML messages and
codes; the error log quotes request URIs when a request fails. Both are redacted before they reach
any handler.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn import glogging

from idp.redaction import REDACTED, SECRET_HEADERS, redact

# The atoms naming a header or an environ entry whose whole value is a credential.
_SECRET_ATOMS = frozenset(
    [f"{{{name}}}i" for name in SECRET_HEADERS]
    + [f"{{{name}}}o" for name in SECRET_HEADERS]
    + [f"{{http_{name.replace('-', '_')}}}e" for name in SECRET_HEADERS]
)


class RedactingFilter(logging.Filter):
    """Rewrites each record as its redacted message, whoever logged it (gunicorn, or a request's code)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # structlog's own events never come this way: idp.telemetry.logs writes them itself.
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # A traceback may quote a URL too (an exception's message); format it now, redacted.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """The `logger_class` of idp.gunicorn_conf."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # On the handlers, not the loggers: a handler's filters also see records that propagate to it.
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
                    handler.addFilter(RedactingFilter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        """The access log's fields, each redacted on its own: the query string (`%(q)s`) stands alone in
        its field, with no `?` before it, so only here is it known to be a query."""
        return {
            key: _redacted_atom(key, value) for key, value in super().atoms(resp, req, environ, request_time).items()
        }


def _redacted_atom(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _SECRET_ATOMS:
        return REDACTED
    return redact(value)
