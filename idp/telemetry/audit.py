"""Audit events: who did what, with what outcome, as one JSON log line each.

`record(event)` is the one call: it writes the line today, and is where keeping events in the
store belongs when they are kept. An event holds ids and outcomes, never a credential or message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

AuditDetail = str | int | float | bool | None

_log = structlog.get_logger("idp.audit")


@dataclass(frozen=True)
class AuditEvent:
    """`action` names what happened (`sign_in`, ...); `user_id` who did it, when known."""

    action: str
    outcome: str = "success"
    user_id: str | None = None
    details: Mapping[str, AuditDetail] = field(default_factory=dict)


def record(event: AuditEvent) -> None:
    """One log line: `{"event": "audit", "action": ..., "outcome": ..., "user_id": ..., "details": {...}}`."""
    _log.info("audit", action=event.action, outcome=event.outcome, user_id=event.user_id, details=dict(event.details))
