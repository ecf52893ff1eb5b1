"""The service's Prometheus metrics, and the few calls that record them.

Under gunicorn every worker is its own process: prometheus-client's multiprocess mode (the
PROMETHEUS_MULTIPROC_DIR that `idp.gunicorn_conf` sets up) keeps each worker's values in a file
of that folder, and `exposition()` adds them all up, whichever worker answers the scrape.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from idp.errors import IdpError, InvalidGrant, StoreUnavailable, Throttled
from idp.telemetry.audit import AuditEvent, record

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNKNOWN = "unknown"

LAUNCHES = Counter(
    "idp_launches",
    "Launch links opened, by application and outcome (saml, link, or the refusal's code).",
    ["app", "outcome"],
)
SP_ANSWERS = Counter(
    "idp_sp_answers",
    "Responses sent to SP-initiated requests, by SAML status (Success, or status/sub-status).",
    ["status"],
)
SIGNINS = Counter(
    "idp_signins",
    "Sign-ins, by method (password, totp, passkey, refresh_token) and outcome (success, failure, throttled, refused).",
    ["method", "outcome"],
)
THROTTLE_REFUSALS = Counter(
    "idp_throttle_refusals", "Attempts refused because a throttle limit was reached, by action.", ["action"]
)
REQUEST_DURATION = Histogram(
    "idp_request_duration_seconds",
    "Time to answer a request, by route (the URL rule, never the path), method and status.",
    ["route", "method", "status"],
)
STORE_DURATION = Histogram(
    "idp_store_operation_duration_seconds",
    "Time one store backend operation took, by operation.",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
STORE_ERRORS = Counter(
    "idp_store_errors",
    "Store backend operations that failed, by operation and error (unavailable, or the exception's type).",
    ["operation", "error"],
)
SIGNATURE_DURATION = Histogram(
    "idp_signature_duration_seconds",
    "Time one signature took: xml (an enveloped XML signature) or redirect (an HTTP-Redirect query).",
    ["kind"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
)


def exposition() -> bytes:
    """Every metric in the Prometheus text format, summed over all worker processes when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _refusal(error: BaseException) -> str:
    return error.code if isinstance(error, IdpError) else "error"


# Any token is a method to HTTP: others are counted as one, so no client can add series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_answered(route: str, method: str, status: int, seconds: float) -> None:
    _request_duration(route, method if method in METHODS else "other", status).observe(seconds)


@functools.cache
def _request_duration(route: str, method: str, status: int) -> Histogram:
    """Found once per route, method and status: a bounded set (URL rules, METHODS, HTTP statuses)."""
    return REQUEST_DURATION.labels(route, method, str(status))


@functools.cache
def _store_duration(operation: str) -> Histogram:
    """The operation's histogram, found once (`labels` finds the same one each time, at a cost)."""
    return STORE_DURATION.labels(operation)


def store_operation(operation: str, seconds: float, error: BaseException | None) -> None:
    """The store's observer (see idp.store.observed): each backend call, its time and what it raised."""
    _store_duration(operation).observe(seconds)
    if isinstance(error, StoreUnavailable):
        STORE_ERRORS.labels(operation, "unavailable").inc()
    elif error is not None and not isinstance(error, IdpError):  # a Conflict is an answer, not a failure
        STORE_ERRORS.labels(operation, type(error).__name__).inc()


@functools.cache
def _signature_duration(kind: str) -> Histogram:
    return SIGNATURE_DURATION.labels(kind)


def signature_made(kind: str, seconds: float) -> None:
    _signature_duration(kind).observe(seconds)


def throttled(action: str) -> None:
    THROTTLE_REFUSALS.labels(action).inc()


def sp_answered(status: str, *, app: str | None = None, user: str | None = None, brand: str | None = None) -> None:
    """Counts one answer to an SP-initiated request, and records it: the app, and whom it was for when known."""
    SP_ANSWERS.labels(status).inc()
    outcome = "success" if status == "Success" else "refused"
    target = f"app:{app}" if app else None
    brands = [brand] if brand else []
    event = AuditEvent(
        "sp_answer", outcome=outcome, actor=user, target=target, brand_ids=brands, details={"status": status}
    )
    record(event)


@dataclass
class Launch:
    """A launch being answered: the flow fills in the app once the link has opened, and how it was answered."""

    app: str = UNKNOWN
    outcome: str = "saml"
    user: str | None = None
    brand: str | None = None


@contextmanager
def launching() -> Iterator[Launch]:
    """Counts one launch when the block ends: its outcome, or the code of the refusal it raised."""
    launch = Launch()
    try:
        yield launch
    except BaseException as error:
        _launched(launch, _refusal(error))
        raise
    _launched(launch, launch.outcome)


def _launched(launch: Launch, outcome: str) -> None:
    LAUNCHES.labels(launch.app, outcome).inc()
    record(
        AuditEvent(
            "launch",
            outcome=outcome,
            actor=launch.user,
            target=f"app:{launch.app}",
            brand_ids=[launch.brand] if launch.brand else [],
        )
    )


@dataclass
class SignIn:
    """A sign-in being tried: the flow says when the credentials were wrong, and whose they were."""

    method: str
    outcome: str = "success"
    user_id: str | None = None

    def failed(self, account_id: str | None = None) -> None:
        """Wrong credentials; `account_id` the account they were tried on, when it exists."""
        self.outcome = "failure"
        self.user_id = self.user_id or account_id


@contextmanager
def signing_in(method: str) -> Iterator[SignIn]:
    """Counts one sign-in when the block ends, and records it as an audit event.

    A refusal raised inside counts as `throttled` (a limit was reached), `failure` (wrong credentials:
    invalid_grant or a wrong code) or `refused` (anything else: an unknown client, the store away).
    """
    attempt = SignIn(method)
    try:
        yield attempt
    except BaseException as error:
        if isinstance(error, Throttled):
            attempt.outcome = "throttled"
        elif isinstance(error, IdpError) and error.code in ("invalid_grant", "InvalidToken"):
            attempt.failed(error.account_id if isinstance(error, InvalidGrant) else None)
        else:
            attempt.outcome = "refused"
        _signed_in(attempt)
        raise
    _signed_in(attempt)


def _signed_in(attempt: SignIn) -> None:
    SIGNINS.labels(attempt.method, attempt.outcome).inc()
    # Who tried wrong credentials is not known: the account they were tried on is the target.
    actor = attempt.user_id if attempt.outcome == "success" else None
    target = f"user:{attempt.user_id}" if attempt.user_id else None
    record(
        AuditEvent("sign_in", outcome=attempt.outcome, actor=actor, target=target, details={"method": attempt.method})
    )
