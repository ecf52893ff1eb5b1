"""Audit events: who did what, to what, with what outcome, as one JSON log line each and kept.

`record(event)` is the one call: it writes the line, then hands the event to the sink the service
set at start (`keep_with`: the store's audit log), so this package needs no layer of the service.
Where the request came from (client address, user agent, request id) is taken from the request
context the web layer binds (`bind_request`). An event holds ids and outcomes, never a credential.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import structlog

AuditDetail = str | int | float | bool | None

_log = structlog.get_logger("idp.audit")
_failures = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestContext:
    """Where the request being answered came from; empty outside a request (the `idp` command)."""

    client: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


_NO_REQUEST = RequestContext()
_request: ContextVar[RequestContext | None] = ContextVar("idp_audit_request", default=None)


def bind_request(context: RequestContext) -> None:
    _request.set(context)


def unbind_request() -> None:
    _request.set(None)


def _context() -> RequestContext:
    return _request.get() or _NO_REQUEST


def _now_ns() -> int:
    return time.time_ns()


@dataclass(frozen=True)
class AuditEvent:
    """`action` names what happened (`sign_in`, `user.disable`, ...); `actor` the user who did it, when
    known (None: the operator, or someone unknown); `target` what it was done to (`user:<id>`,
    `app:<id>`, `membership:<brand>:<user>`); `brand_ids` the brands it concerns, when the caller
    knows them (otherwise the audit log takes the brands of the target user, or of the actor)."""

    action: str
    outcome: str = "success"
    actor: str | None = None
    target: str | None = None
    brand_ids: Sequence[str] = ()
    details: Mapping[str, AuditDetail] = field(default_factory=dict)
    at_ns: int = field(default_factory=_now_ns)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    client: str | None = field(default_factory=lambda: _context().client)
    user_agent: str | None = field(default_factory=lambda: _context().user_agent)
    request_id: str | None = field(default_factory=lambda: _context().request_id)

    @property
    def at(self) -> float:
        return self.at_ns / 1e9

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.at,
            "action": self.action,
            "outcome": self.outcome,
            "actor": self.actor,
            "target": self.target,
            "brand_ids": list(self.brand_ids),
            "client": self.client,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AuditEvent:
        return cls(
            action=doc["action"],
            outcome=doc["outcome"],
            actor=doc.get("actor"),
            target=doc.get("target"),
            brand_ids=tuple(doc.get("brand_ids") or ()),
            details=dict(doc.get("details") or {}),
            at_ns=int(doc["at_ns"]),
            id=doc["id"],
            client=doc.get("client"),
            user_agent=doc.get("user_agent"),
            request_id=doc.get("request_id"),
        )


Sink = Callable[[AuditEvent], None]
_sink: list[Sink] = []


def keep_with(sink: Sink | None) -> None:
    """Where every recorded event is kept from now on (None: nowhere but the log)."""
    _sink[:] = [sink] if sink is not None else []


def record(event: AuditEvent) -> None:
    """One log line (`{"event": "audit", "action": ..., ...}`), then the event kept by the sink.

    A sink that fails (the store away) costs the event its place in the store, never the answer
    to the request: the log line is already written, and the failure is logged beside it.
    """
    line = event.as_json()
    line.pop("request_id")  # the log's context already carries it
    _log.info("audit", **line)
    for sink in _sink:
        try:
            sink(event)
        except Exception as error:  # the action happened; keeping its record must not undo it
            _failures.warning("could not keep audit event %s (%s): %s", event.id, event.action, error)
