"""Structured logs: one JSON object a line (or readable lines for development), with no secret in them.

Everything goes to standard error, rendered alike. structlog's events (the request lines, audit
events) are rendered by structlog and written as they are; the plain `logging` records of the rest
of the code (and of gunicorn) go through the root logger, whose one handler renders them with the
same processors and whose filter (`idp.gunicorn_logging.RedactingFilter`) cleans them. Either way,
every event passes `drop_secrets`: fields named like a credential lose their value, and any text
quoting a URL loses the values of its secret parameters (`idp.redaction`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from idp.redaction import REDACTED, redact

FORMATS = ("json", "console")

# Field names whose value is never logged, whatever it holds.
SECRET_FIELDS = frozenset(
    {
        "password",
        "token",
        "access_token",
        "refresh_token",
        "client_secret",
        "code",
        "hash",
        "samlrequest",
        "samlresponse",
        "relaystate",
        "relay_state",
        "authorization",
        "cookie",
        "secret",
    }
)


def drop_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: secret fields redacted whole, secret URL parameters in any text redacted."""
    return {key: _clean(key, value) for key, value in event.items()}


def _clean(key: str, value: Any) -> Any:
    if key.lower() in SECRET_FIELDS and value is not None:
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {inner: _clean(inner, item) for inner, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean("", item) for item in value]
    return value


def _process_id(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["pid"] = os.getpid()
    return event


class _StandardError(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it), like logging's last resort."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class _Lines:
    """structlog's logger for the service's own events: each rendered line written whole to standard
    error as it is at the time (test runners swap it), one thread at a time.

    A line structlog has rendered needs no `logging` record, handler or formatter around it: going
    through them cost about as much again as the event's own processing, on every request."""

    _lock = threading.Lock()

    def __init__(self, name: str) -> None:
        self.name = name  # for structlog.stdlib.add_logger_name

    def write(self, line: str) -> None:
        with self._lock:
            stream = sys.stderr
            stream.write(line + "\n")
            stream.flush()

    debug = info = warning = warn = error = critical = fatal = exception = msg = write


class _Renderer:
    """The last processor of structlog's chain, switched by `configure` without re-creating the
    loggers structlog has cached."""

    def __init__(self) -> None:
        self.render: Processor = structlog.processors.JSONRenderer(sort_keys=False)

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        return self.render(logger, method, event)


_render = _Renderer()


def configure(log_format: str) -> None:
    """Set up structlog and the root logger once per process; calling it again only changes the format."""
    from idp.gunicorn_logging import RedactingFilter

    # No line shows where in the source it was logged from, or the thread's name: logging need not
    # walk the stack or look them up for every record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _process_id,
    ]
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=False)
        if log_format == "console"
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    _render.render = renderer
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, drop_secrets, _render],
        logger_factory=_Lines,
        # The service's own events from INFO up, as for its `logging` records below.
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.processors.format_exc_info, drop_secrets],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StandardError)), None)
    if handler is None:
        handler = _StandardError()
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    handler.setFormatter(formatter)
    # The service's own lines from INFO up (requests, audit events); other libraries' from WARNING, as before.
    service = logging.getLogger("idp")
    if service.level == logging.NOTSET or service.level > logging.INFO:
        service.setLevel(logging.INFO)
