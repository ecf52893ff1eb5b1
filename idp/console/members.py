"""The console's Members section: a brand's members, listed and searched, invited, and their roles and
accounts managed through the same service and rules as the API (`idp.accounts.people`).

After each change the browser is sent back (POST/redirect/GET) with what happened as a short code and
the member's id (`?done=invited&user=...`); the page words the message itself, naming the member only
when the admin may see them, so the URL carries no secret and a crafted one can say nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from idp.accounts.people import Member, People
from idp.accounts.second_factor import SecondFactor, available_methods
from idp.accounts.secrets import password_digest
from idp.console.brands import brand_path
from idp.console.seat import Seat, Seats
from idp.errors import (
    Conflict,
    Forbidden,
    MailFailed,
    NotFound,
    SecondFactorInvalid,
    SecondFactorRequired,
    Throttled,
    ValidationError,
)
from idp.models import Role, User
from idp.signin.outcomes import Browser, Outcome, Redirect
from idp.store import Store

PAGE_SIZE = 25
TOO_MANY_CODES = "Too many wrong codes for your account lately. Nothing was changed; please try again later."
MAIL_FAILED = "The mail could not be sent just now; nothing else was changed. Please try again later."
ROLES = tuple(role.value for role in Role)

# What each method of the admin's own second factor asks for, on the MFA reset page.
FACTOR_LABELS = {
    "totp": "6-digit code from your authenticator app, or a recovery code",
    "email": "Code we emailed you",
    "password": "Your password",
}


@dataclass(frozen=True)
class Invitation:
    """What the invite form sent, shown again beside the error when the service refused it."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    role: str = Role.AGENT.value


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or "1"))
    except ValueError:
        raise ValidationError("page must be a whole number", field="page") from None


class MembersConsole:
    def __init__(self, seats: Seats, store: Store, people: People, second_factor: SecondFactor) -> None:
        self.seats = seats
        self.store = store
        self.people = people
        self.second_factor = second_factor

    def _seat(self, browser: Browser, brand_id: str, tail: str = "") -> Seat:
        return self.seats.take(browser, path=brand_path(brand_id, "members" + tail), brand_id=brand_id)

    def _member(self, seat: Seat, user_id: str) -> Member:
        """A member of the brand in view; anyone else is not found, so that no other brand's people show."""
        assert seat.brand is not None
        membership = self.store.membership(user_id, seat.brand.id)
        user = self.store.user(user_id) if membership is not None else None
        if membership is None or user is None:
            raise NotFound("There is no such member of this brand.", field="user")
        return Member(user, membership)

    def _back(self, seat: Seat, done: str, user_id: str, *, to_member: bool = True) -> Outcome:
        assert seat.brand is not None
        path = brand_path(seat.brand.id, "members") + (f"/{user_id}" if to_member else "")
        return Outcome(Redirect(f"{path}?{urlencode({'done': done, 'user': user_id})}", 303))

    def _notice(self, seat: Seat, done: str | None, user_id: str | None) -> str | None:
        """The message of a finished action, naming the member only when the admin may see them."""
        if not done:
            return None
        assert seat.brand is not None
        user: User | None = None
        if user_id:
            try:
                user = self.people.show(seat.user, user_id)
            except (Forbidden, NotFound):
                user = None
        who = user.email if user else "the member"
        first = user.email if user else "The member"  # `who` at the start of a sentence
        membership = self.store.membership(user.id, seat.brand.id) if user else None
        role = membership.role if membership else None
        messages = {
            "invited": f"Invitation sent to {who}.",
            "added": f"{first} was added to {seat.brand.name}" + (f" as {role}." if role else "."),
            "role": f"{first} is now {role} of {seat.brand.name}." if role else "The role was changed.",
            "removed": f"{first} was removed from {seat.brand.name}.",
            "disabled": f"{first} is disabled: every session, token and launch link of theirs has stopped working.",
            "enabled": f"{first} can sign in again.",
            "invitation_failed": f"{first} was added to {seat.brand.name}, but the invitation could not be mailed. "
            "Send them a password reset link from this page once mail works again.",
            "password_reset": f"A password reset link was sent to {who}.",
            "mfa_reset": f"MFA was reset for {who}; they can set it up again when they next sign in.",
        }
        return messages.get(done)

    # the list
    def listing(
        self,
        browser: Browser,
        *,
        brand_id: str,
        query: str = "",
        page: str | None = None,
        done: str | None = None,
        user_id: str | None = None,
    ) -> Outcome:
        seat = self._seat(browser, brand_id)
        number = _page_number(page)
        query = query.strip()
        found = self.people.members(
            seat.user, brand_id, start=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE, query=query or None
        )
        pages = max(1, -(-found.total // PAGE_SIZE))
        return seat.page(
            "admin/members.html",
            members=found.items,
            passkey_counts={member.user.id: len(self.store.passkeys_of(member.user.id)) for member in found.items},
            total=found.total,
            query=query,
            page_number=number,
            pages=pages,
            notice=self._notice(seat, done, user_id),
        )

    # inviting
    def invite_form(self, browser: Browser, *, brand_id: str) -> Outcome:
        seat = self._seat(browser, brand_id, "/invite")
        return seat.page("admin/members_invite.html", invitation=Invitation(), roles=ROLES, error=None)

    def invite(self, browser: Browser, *, brand_id: str, invitation: Invitation) -> Outcome:
        """The API's add member with an invitation: a new account is mailed a link to choose its password."""
        seat = self._seat(browser, brand_id, "/invite")
        payload = {
            "email": invitation.email,
            "first_name": invitation.first_name,
            "last_name": invitation.last_name,
            "role": invitation.role,
            "invite": True,
        }
        try:
            added = self.people.add_member(seat.user, brand_id, payload)
        except (ValidationError, Conflict) as refusal:
            return seat.page(
                "admin/members_invite.html", refusal.status, invitation=invitation, roles=ROLES, error=refusal
            )
        except MailFailed:
            # The member was added (as through the API, which answers 503 then); the page says what is left to do.
            user = self.store.user_by_email(invitation.email.strip())
            if user is None or self.store.membership(user.id, brand_id) is None:
                raise
            return self._back(seat, "invitation_failed", user.id)
        return self._back(seat, "invited" if added.invited else "added", added.member.user.id, to_member=False)

    # one member
    def _member_page(
        self, seat: Seat, member: Member, *, status: int = 200, error: str | None = None, notice: str | None = None
    ) -> Outcome:
        return seat.page(
            "admin/members_member.html",
            status,
            member=member,
            passkeys=self.store.passkeys_of(member.user.id),
            roles=ROLES,
            refusal=self.people.refusal_to_manage(seat.user, member.user.id),
            error=error,
            notice=notice,
        )

    def show(self, browser: Browser, *, brand_id: str, user_id: str, done: str | None = None) -> Outcome:
        seat = self._seat(browser, brand_id, f"/{user_id}")
        member = self._member(seat, user_id)
        return self._member_page(seat, member, notice=self._notice(seat, done, user_id))

    def _act(self, browser: Browser, brand_id: str, user_id: str, action: str, role: str | None = None) -> Outcome:
        seat = self._seat(browser, brand_id, f"/{user_id}")
        member = self._member(seat, user_id)
        actor = seat.user
        try:
            if action == "role":
                self.people.set_role(actor, brand_id, user_id, role)
            elif action == "disabled":
                self.people.disable(actor, user_id)
            elif action == "enabled":
                self.people.enable(actor, user_id)
            elif action == "password_reset":
                self.people.send_password_reset(actor, user_id)
            elif action == "removed":
                self.people.remove_member(actor, brand_id, user_id)
                return self._back(seat, action, user_id, to_member=False)
        except (Forbidden, Conflict, ValidationError) as refusal:
            return self._member_page(seat, member, status=refusal.status, error=refusal.message)
        except MailFailed:
            return self._member_page(seat, member, status=503, error=MAIL_FAILED)
        return self._back(seat, action, user_id)

    def set_role(self, browser: Browser, *, brand_id: str, user_id: str, role: str) -> Outcome:
        return self._act(browser, brand_id, user_id, "role", role)

    def disable(self, browser: Browser, *, brand_id: str, user_id: str) -> Outcome:
        return self._act(browser, brand_id, user_id, "disabled")

    def enable(self, browser: Browser, *, brand_id: str, user_id: str) -> Outcome:
        return self._act(browser, brand_id, user_id, "enabled")

    def send_password_reset(self, browser: Browser, *, brand_id: str, user_id: str) -> Outcome:
        return self._act(browser, brand_id, user_id, "password_reset")

    def remove_form(self, browser: Browser, *, brand_id: str, user_id: str) -> Outcome:
        """The confirmation step: removing is one more POST from this page."""
        seat = self._seat(browser, brand_id, f"/{user_id}/remove")
        return seat.page("admin/members_remove.html", member=self._member(seat, user_id))

    def remove(self, browser: Browser, *, brand_id: str, user_id: str) -> Outcome:
        return self._act(browser, brand_id, user_id, "removed")

    # resetting MFA, after the admin's own second factor
    def _mfa_page(
        self, seat: Seat, member: Member, *, status: int = 200, error: str | None = None, sent: bool = False
    ) -> Outcome:
        methods = available_methods(seat.user)
        return seat.page(
            "admin/members_mfa.html",
            status,
            member=member,
            passkeys=self.store.passkeys_of(member.user.id),
            methods=[(method, FACTOR_LABELS[method]) for method in methods],
            error=error,
            sent=sent,
            refusal=self.people.refusal_to_manage(seat.user, member.user.id),
        )

    def mfa_form(self, browser: Browser, *, brand_id: str, user_id: str) -> Outcome:
        seat = self._seat(browser, brand_id, f"/{user_id}/mfa")
        return self._mfa_page(seat, self._member(seat, user_id))

    def send_mfa_code(self, browser: Browser, *, brand_id: str, user_id: str) -> Outcome:
        """Mail the admin a code, when email codes are their second factor (as the API does when asked without one)."""
        seat = self._seat(browser, brand_id, f"/{user_id}/mfa")
        member = self._member(seat, user_id)
        if "email" in available_methods(seat.user):
            try:
                self.second_factor.send_email_code(seat.user, now=browser.now)
            except MailFailed:
                return self._mfa_page(seat, member, status=503, error=MAIL_FAILED)
        return self._mfa_page(seat, member, sent=True)

    def reset_mfa(self, browser: Browser, *, brand_id: str, user_id: str, code: str, method: str | None) -> Outcome:
        seat = self._seat(browser, brand_id, f"/{user_id}/mfa")
        member = self._member(seat, user_id)
        methods = available_methods(seat.user)
        chosen = method or (methods[0] if methods else None)
        # The API takes a password as its SHA-256 digest (Rocket.Chat's clients send it so); a person types it.
        sent = password_digest(code) if chosen == "password" and code else code.strip()
        try:
            self.second_factor.require(seat.user, code=sent, method=chosen, address=browser.address, now=browser.now)
        except SecondFactorRequired:
            return self._mfa_page(seat, member, status=400, error="Enter your code to confirm it is you.")
        except SecondFactorInvalid:
            return self._mfa_page(
                seat, member, status=403, error="That code is not right, or was already used. Nothing was changed."
            )
        except Throttled:
            return self._mfa_page(seat, member, status=429, error=TOO_MANY_CODES)
        try:
            self.people.reset_mfa(seat.user, user_id)
        except (Forbidden, ValidationError) as refusal:
            return self._mfa_page(seat, member, status=refusal.status, error=refusal.message)
        return self._back(seat, "mfa_reset", user_id)
