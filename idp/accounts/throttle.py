"""Throttling of password, MFA and second-factor attempts, counted in the store across workers and hosts.

Failures are counted in sliding windows under three keys: the account from one client address
(tight), the account from anywhere (looser), and the client address over all accounts. When a
count reaches its limit, further attempts are refused until enough failures have aged out of
the window; nothing is locked for good. The tight per-address limit is what stops guessing;
because it is per address, an attacker elsewhere cannot lock a user out of their own network,
and the account-wide limit only slows a guesser spread over many addresses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from idp.errors import IdpError, Throttled
from idp.store import Store
from idp.telemetry import metrics
from idp.telemetry.audit import AuditDetail, AuditEvent, record


@dataclass(frozen=True)
class Rule:
    scope: str  # "account+address", "account" or "address"
    limit: int
    window: int  # seconds


DEFAULT_RULES = (
    Rule("account+address", 10, 15 * 60),
    Rule("account", 50, 60 * 60),
    Rule("address", 100, 15 * 60),
)


@dataclass(frozen=True)
class Attempt:
    """Who is trying what: the action ('password', 'mfa', '2fa', 'email-code'), account and address."""

    action: str
    account: str | None
    address: str | None

    def keys(self, rules: tuple[Rule, ...]) -> list[tuple[Rule, str]]:
        parts = {"account": self.account, "address": self.address}
        found: list[tuple[Rule, str]] = []
        for rule in rules:
            values = [parts[name] for name in rule.scope.split("+")]
            present = [value for value in values if value]
            if len(present) == len(values):
                found.append((rule, ":".join(["throttle", self.action, rule.scope, *present])))
        return found


class Throttle:
    def __init__(self, store: Store, rules: tuple[Rule, ...] = DEFAULT_RULES) -> None:
        self.store = store
        self.rules = rules

    @contextmanager
    def attempt(self, action: str, account: str | None, address: str | None, *, now: float) -> Iterator[None]:
        """One guarded attempt: refused up front when a limit is reached; any IdpError raised inside
        (a wrong password, a wrong code) counts as a failure; finishing the block is a success."""
        attempt = Attempt(action, account, address)
        self.check(attempt, now=now)
        try:
            yield
        except IdpError:
            self.failed(attempt, now=now)
            raise
        self.succeeded(attempt)

    def check(self, attempt: Attempt, *, now: float) -> None:
        """Raise Throttled, with the seconds to wait, when any limit is reached."""
        waits = []
        for rule, key in attempt.keys(self.rules):
            failures = self.store.events_since(key, now - rule.window)
            if len(failures) >= rule.limit:
                # Wait until enough failures leave the window (a failure leaves it `window` seconds
                # after it happened) to let one more attempt through.
                oldest_that_must_go = failures[len(failures) - rule.limit]
                waits.append(oldest_that_must_go + rule.window - now)
        if waits:
            metrics.throttled(attempt.action)
            raise Throttled("too many attempts; try again later", retry_after=max(1, math.ceil(max(waits))))

    def failed(self, attempt: Attempt, *, now: float) -> None:
        for rule, key in attempt.keys(self.rules):
            self.store.record_event(key, now, rule.window)
            if len(self.store.events_since(key, now - rule.window)) == rule.limit:
                self._locked_out(attempt, rule)

    def _locked_out(self, attempt: Attempt, rule: Rule) -> None:
        """The failure that reached a limit: one event, naming the account when it is a user's."""
        account = attempt.account or ""
        user = self.store.user_by_email(account) if "@" in account else self.store.user(account) if account else None
        target = f"user:{user.id}" if user else None
        details: dict[str, AuditDetail] = {"attempt": attempt.action, "scope": rule.scope, "limit": rule.limit}
        record(AuditEvent("throttle.lockout", outcome="locked", actor=None, target=target, details=details))

    def succeeded(self, attempt: Attempt) -> None:
        """A success from this address clears its own count for the account, and nothing else."""
        for rule, key in attempt.keys(self.rules):
            if rule.scope == "account+address":
                self.store.clear_events(key)
