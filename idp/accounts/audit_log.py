"""The audit log kept in the store: every recorded event for a set time, and the queries over it.

`keep` is the sink `idp.telemetry.audit.record` hands each event to. An event belongs to the brands
it names; when it names none, to the brands the user it was done to is a member of, else to those
of the user who did it. Keys sort by time, so a page is cut from the keys and only its documents
are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from idp.errors import ValidationError
from idp.store import Store
from idp.telemetry.audit import AuditEvent

_USER = "user:"


def _key(event: AuditEvent) -> str:
    return f"{event.at_ns:020d}-{event.id}"


def _at_ns(key: str) -> int:
    return int(key.split("-", 1)[0])


def _target_user(event: AuditEvent) -> str | None:
    return event.target[len(_USER) :] if event.target and event.target.startswith(_USER) else None


@dataclass(frozen=True)
class EventQuery:
    """Which events: of these brands (None: every one), in [since, until] (epoch seconds), of an action,
    done by or to a user; `start` and `limit` cut the page, newest first."""

    brand_ids: frozenset[str] | None = None
    since: float | None = None
    until: float | None = None
    action: str | None = None
    user_id: str | None = None
    start: int = 0
    limit: int | None = None


@dataclass(frozen=True)
class EventPage:
    items: list[AuditEvent]
    total: int


class AuditLog:
    def __init__(self, store: Store, retention_seconds: float) -> None:
        self.store = store
        self.retention_seconds = retention_seconds

    def _brands_of(self, user_id: str | None) -> list[str]:
        return [m.brand_id for m in self.store.memberships_of(user_id)] if user_id else []

    def keep(self, event: AuditEvent) -> None:
        target_user = _target_user(event)
        brands = list(event.brand_ids) or self._brands_of(target_user) or self._brands_of(event.actor)
        users = [user for user in (event.actor, target_user) if user]
        doc = {**event.as_json(), "brand_ids": brands, "at_ns": event.at_ns}
        self.store.save_audit_event(_key(event), doc, self.retention_seconds, brand_ids=brands, user_ids=users)

    def _keys(self, query: EventQuery) -> list[str]:
        """The matching keys, newest first, found through the indexes alone."""
        sets: list[set[str]] = []
        if query.brand_ids is not None:
            index = "brand-action" if query.action else "brand"
            sets.append(
                {
                    key
                    for brand in query.brand_ids
                    for key in self.store.audit_keys(index, f"{brand}:{query.action}" if query.action else brand)
                }
            )
        elif query.action:
            sets.append(set(self.store.audit_keys("action", query.action)))
        if query.user_id:
            sets.append(set(self.store.audit_keys("user", query.user_id)))
        keys = set.intersection(*sets) if sets else set(self.store.audit_keys())
        low = None if query.since is None else int(query.since * 1e9)
        high = None if query.until is None else int(query.until * 1e9)
        timed = (key for key in keys if (low is None or _at_ns(key) >= low) and (high is None or _at_ns(key) <= high))
        return sorted(timed, reverse=True)

    def events(self, query: EventQuery) -> EventPage:
        keys = self._keys(query)
        end = None if query.limit is None else query.start + query.limit
        docs = self.store.audit_events(keys[query.start : end])
        return EventPage([AuditEvent.from_json(doc) for doc in docs], len(keys))


def moment(name: str, raw: str | None) -> float | None:
    """A point in time as the API and the command take it: epoch seconds, or an ISO 8601 date-time
    (UTC when it names no offset)."""
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{name} must be epoch seconds or an ISO 8601 date-time", field=name) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
