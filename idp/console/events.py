"""The console's Events section: the brand's audit log (and that of the brands below it), filtered by
user, action and time range, newest first, through the same service as the API's /brands/:brand/events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from idp.accounts.audit_log import EventQuery, moment
from idp.accounts.people import People
from idp.console.brands import brand_path
from idp.console.seat import Seats
from idp.errors import Forbidden, NotFound, ValidationError
from idp.models import User
from idp.signin.outcomes import Browser, Outcome
from idp.store import Store
from idp.telemetry.audit import AuditEvent

PAGE_SIZE = 50
_USER = "user:"
_APP = "app:"

# The actions the service records, offered as suggestions in the filter (any other name may be typed).
KNOWN_ACTIONS = (
    "sign_in", "launch", "sp_answer", "mfa.enable", "mfa.remove", "mfa.recovery_codes", "mfa.reset",
    "password.change", "password.reset", "password.invitation_accepted", "password.reset_sent", "password.set",
    "member.add", "member.set_role", "member.remove", "user.update", "user.disable", "user.enable", "user.delete",
    "scim.user.create", "scim.user.update", "scim.user.delete", "scim.group.create", "scim.group.update",
    "scim.group.delete", "refresh_token.reuse", "throttle.lockout",
)  # fmt: skip


@dataclass(frozen=True)
class EventFilter:
    """The filter form as sent: a user (email address or id), an action, a time range in UTC."""

    user: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    page: str = ""


@dataclass(frozen=True)
class ShownEvent:
    time: str  # UTC, ISO 8601
    actor: str
    action: str
    outcome: str
    target: str
    details: tuple[tuple[str, str], ...]


def iso_utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class EventsConsole:
    def __init__(self, seats: Seats, store: Store, people: People) -> None:
        self.seats = seats
        self.store = store
        self.people = people

    def _name(self, admin: User, user_id: str | None, names: dict[str, str]) -> str:
        """A user as the admin may know them: their email when the admin may see them, else their id."""
        if user_id is None:
            return "operator or unknown"
        if user_id not in names:
            try:
                names[user_id] = self.people.show(admin, user_id).email
            except (Forbidden, NotFound):
                names[user_id] = f"user {user_id}"
        return names[user_id]

    def _shown(self, admin: User, event: AuditEvent, names: dict[str, str]) -> ShownEvent:
        target = event.target or ""
        if target.startswith(_USER):
            target = self._name(admin, target[len(_USER) :], names)
        elif target.startswith(_APP) and (app := self.store.app(target[len(_APP) :])) is not None:
            target = f"{app.name} ({target})"  # the event is the brand's: so is the app it names
        return ShownEvent(
            time=iso_utc(event.at),
            actor=self._name(admin, event.actor, names),
            action=event.action,
            outcome=event.outcome,
            target=target,
            details=tuple(sorted((key, str(value)) for key, value in event.details.items())),
        )

    def _user_id(self, raw: str) -> str | None:
        """The user the filter names: by email address when it holds one (an unknown one matches nothing)."""
        raw = raw.strip()
        if not raw:
            return None
        if "@" in raw:
            user = self.store.user_by_email(raw)
            return user.id if user else f"unknown:{raw}"
        return raw

    def listing(self, browser: Browser, *, brand_id: str, chosen: EventFilter) -> Outcome:
        seat = self.seats.take(browser, path=brand_path(brand_id, "events"), brand_id=brand_id)
        errors: dict[str, str] = {}
        since = until = None
        for name in ("since", "until"):
            try:
                value = moment(name, getattr(chosen, name).strip())
            except ValidationError:
                errors[name] = "Enter a date and time, such as 2026-01-31T09:30 (UTC)."
                continue
            since, until = (value, until) if name == "since" else (since, value)
        try:
            number = max(1, int(chosen.page or "1"))
        except ValueError:
            number = 1
        items: list[ShownEvent] = []
        total = 0
        if not errors:
            query = EventQuery(
                since=since,
                until=until,
                action=chosen.action.strip() or None,
                user_id=self._user_id(chosen.user),
                start=(number - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
            found = self.people.events(seat.user, brand_id, query)
            names: dict[str, str] = {}
            items = [self._shown(seat.user, event, names) for event in found.items]
            total = found.total
        return seat.page(
            "admin/events.html",
            400 if errors else 200,
            events=items,
            total=total,
            chosen=chosen,
            errors=errors,
            page_number=number,
            pages=max(1, -(-total // PAGE_SIZE)),
            actions=KNOWN_ACTIONS,
        )
