"""Brand members and their accounts, as brand admins (through the API) and operators (the `idp` command) manage them.

Who may act: an admin of a brand, directly or through an ancestor, manages that brand's memberships,
and manages a user's account only when every brand the user belongs to is one they administer.
An admin sees only users who belong to a brand they administer; everything else is refused (403).
`actor` None is the operator at the command line, who may do everything.  Disabling, enabling and
deleting go through `Lifecycle`, the one place they happen.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idp.accounts.audit_log import AuditLog, EventPage, EventQuery
from idp.accounts.custom_attributes import clean_attributes
from idp.accounts.lifecycle import Lifecycle
from idp.accounts.mfa import Mfa
from idp.accounts.notices import Notices
from idp.accounts.passkeys import has_second_factor
from idp.accounts.password_links import PasswordLinks
from idp.accounts.passwords import check_new_password
from idp.accounts.provisioning import create_user
from idp.accounts.secrets import hash_password
from idp.errors import Conflict, Forbidden, MailFailed, NotFound, ValidationError
from idp.models import Brand, Membership, Role, User
from idp.store import Store
from idp.telemetry.audit import AuditEvent, record
from idp.text import clean_text

log = logging.getLogger(__name__)

# Fields of the user shape a client may send back unchanged with an update; they are ignored.
_READ_ONLY = frozenset(
    {
        "type", "username", "display_name", "email", "created_at", "id", "updated_at", "user_status",
        "email_confirmed", "mfa_enabled", "email_2fa_enabled", "deleted_at", "mfa_recovery_codes_remaining",
    }
)  # fmt: skip
_UPDATABLE = ("first_name", "last_name", "phone_number", "attributes")


def _role(value: object) -> str:
    if not isinstance(value, str) or value not in {r.value for r in Role}:
        raise ValidationError("role must be Admin or Agent", field="role")
    return value


@dataclass(frozen=True)
class Member:
    user: User
    membership: Membership


@dataclass(frozen=True)
class MemberPage:
    items: list[Member]
    total: int


@dataclass(frozen=True)
class Added:
    member: Member
    created: bool  # a new account, without a password
    invited: bool  # an invitation link was mailed


def _audit(actor: User | None, action: str, target: str, brand_id: str | None = None, **details: str) -> None:
    record(
        AuditEvent(
            action,
            actor=actor.id if actor else None,
            target=target,
            brand_ids=[brand_id] if brand_id else [],
            details=details,
        )
    )


def _matches(user: User, query: str) -> bool:
    needle = query.lower()
    return any(needle in text.lower() for text in (user.first_name, user.last_name, user.display_name, user.email))


class People:
    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        mfa: Mfa,
        password_links: PasswordLinks,
        notices: Notices,
        audit_log: AuditLog,
    ) -> None:
        self.store = store
        self.audit_log = audit_log
        self.lifecycle = lifecycle
        self.mfa = mfa
        self.password_links = password_links
        self.notices = notices

    # who may act
    def administered(self, actor: User) -> set[str]:
        """The brands the actor administers: those where they are Admin, and every brand below them."""
        found: set[str] = set()
        todo = [m.brand_id for m in self.store.memberships_of(actor.id) if m.role == Role.ADMIN]
        while todo:
            brand_id = todo.pop()
            if brand_id not in found:
                found.add(brand_id)
                todo += [child.id for child in self.store.child_brands(brand_id)]
        return found

    def _brand(self, actor: User | None, brand_id: str) -> Brand:
        brand = self.store.brand(brand_id)
        if brand is None:
            raise NotFound("no such brand", field="brand")
        if actor is not None and brand.id not in self.administered(actor):
            raise Forbidden("only an admin of this brand or of a parent brand may manage its members")
        return brand

    def _user(self, actor: User | None, user_id: str, *, manage: bool) -> User:
        """The user, when the actor may see them (`manage` False) or manage their account (`manage` True)."""
        user = self.store.user(user_id)
        if user is None:
            raise NotFound("no such user", field="user")
        if actor is None:
            return user
        theirs = {m.brand_id for m in self.store.memberships_of(user.id)}
        mine = self.administered(actor)
        if not theirs & mine:
            raise Forbidden("you do not administer a brand this user belongs to")
        if manage and not theirs <= mine:
            raise Forbidden("this user also belongs to brands you do not administer; ask an admin of all of them")
        return user

    def _managed(self, actor: User | None, user_id: str) -> User:
        user = self._user(actor, user_id, manage=True)
        if actor is not None and actor.id == user.id:
            raise Forbidden("you cannot disable, delete or reset your own account here")
        return user

    def refusal_to_manage(self, actor: User, user_id: str) -> str | None:
        """Why the actor may not disable, enable or reset this account (None when they may), to say so up front."""
        try:
            self._managed(actor, user_id)
        except (Forbidden, NotFound) as refusal:
            return refusal.message
        return None

    # members
    def members(
        self, actor: User | None, brand_id: str, *, start: int = 0, limit: int | None = None, query: str | None = None
    ) -> MemberPage:
        brand = self._brand(actor, brand_id)
        found = []
        for membership in self.store.memberships_in(brand.id):
            user = self.store.user(membership.user_id)
            if user is not None and (not query or _matches(user, query)):
                found.append(Member(user, membership))
        found.sort(key=lambda m: (m.user.last_name.lower(), m.user.first_name.lower(), m.user.email.lower()))
        end = None if limit is None else start + limit
        return MemberPage(found[start:end], len(found))

    def add_member(self, actor: User | None, brand_id: str, payload: Mapping[str, Any]) -> Added:
        """Add an existing user, found by email, or create one without a password (invited when asked)."""
        brand = self._brand(actor, brand_id)
        role = _role(payload.get("role"))
        invite = payload.get("invite", False)
        if not isinstance(invite, bool):
            raise ValidationError("invite must be true or false", field="invite")
        email = clean_text("email", payload.get("email"), max_length=254)
        attributes = clean_attributes(payload["attributes"]) if payload.get("attributes") is not None else None
        user = self.store.user_by_email(email)
        created = user is None
        if user is None:
            user = create_user(
                self.store,
                email,
                first_name=payload.get("first_name"),  # type: ignore[arg-type]  # create_user checks the type
                last_name=payload.get("last_name"),  # type: ignore[arg-type]
            )
            if attributes is not None:
                user = dataclasses.replace(user, attributes=attributes)
                self.store.save_user(user)
        elif self.store.membership(user.id, brand.id) is not None:
            raise Conflict("this user is already a member; change the role with PUT", field="email")
        membership = Membership(user.id, brand.id, role)
        self.store.save_membership(membership)
        invited = bool(invite and user.password_hash is None and user.is_active)
        if invited:
            self.password_links.send_invitation(user, brand, now=time.time())
        _audit(actor, "member.add", f"user:{user.id}", brand.id, role=role, created=str(created).lower())
        return Added(Member(user, membership), created=created, invited=invited)

    def set_role(self, actor: User | None, brand_id: str, user_id: str, role: object) -> Member:
        brand = self._brand(actor, brand_id)
        user = self.store.user(user_id)
        if user is None or self.store.membership(user.id, brand.id) is None:
            raise NotFound("this user is not a member of this brand", field="user")
        membership = Membership(user.id, brand.id, _role(role))
        self.store.save_membership(membership)
        _audit(actor, "member.set_role", f"user:{user.id}", brand.id, role=membership.role)
        return Member(user, membership)

    def remove_member(self, actor: User | None, brand_id: str, user_id: str) -> None:
        brand = self._brand(actor, brand_id)
        if not self.store.drop_membership(user_id, brand.id):
            raise NotFound("this user is not a member of this brand", field="user")
        _audit(actor, "member.remove", f"user:{user_id}", brand.id)

    def events(self, actor: User | None, brand_id: str, query: EventQuery) -> EventPage:
        """The audit events of the brand and every brand below it, for an admin of it or of a parent brand."""
        brand = self._brand(actor, brand_id)
        below: set[str] = set()
        todo = [brand.id]
        while todo:
            current = todo.pop()
            if current not in below:
                below.add(current)
                todo += [child.id for child in self.store.child_brands(current)]
        return self.audit_log.events(dataclasses.replace(query, brand_ids=frozenset(below)))

    # accounts
    def show(self, actor: User | None, user_id: str) -> User:
        return self._user(actor, user_id, manage=False)

    def update(self, actor: User | None, user_id: str, payload: Mapping[str, Any]) -> User:
        """Fields present replace the stored ones: first_name, last_name, phone_number, attributes."""
        user = self._user(actor, user_id, manage=True)
        unknown = sorted(set(payload) - set(_UPDATABLE) - _READ_ONLY)
        if unknown:
            raise ValidationError(f"{unknown[0]} is not a field that can be changed", field=unknown[0])
        changes: dict[str, Any] = {}
        for name in ("first_name", "last_name"):
            if name in payload:
                changes[name] = clean_text(name, payload[name], max_length=100)
        if "phone_number" in payload:
            phone = payload["phone_number"]
            changes["phone_number"] = (
                None if phone is None else clean_text("phone_number", phone, max_length=40, required=False) or None
            )
        if "attributes" in payload:
            changes["attributes"] = {} if payload["attributes"] is None else clean_attributes(payload["attributes"])
        updated = dataclasses.replace(user, **changes, updated_at=time.time())
        self.store.save_user(updated)
        _audit(actor, "user.update", f"user:{user.id}", fields=",".join(sorted(changes)))
        return updated

    def disable(self, actor: User | None, user_id: str) -> User:
        disabled = self.lifecycle.disable(self._managed(actor, user_id), now=time.time())
        _audit(actor, "user.disable", f"user:{user_id}")
        return disabled

    def enable(self, actor: User | None, user_id: str) -> User:
        enabled = self.lifecycle.enable(self._managed(actor, user_id), now=time.time())
        _audit(actor, "user.enable", f"user:{user_id}")
        return enabled

    def delete(self, actor: User | None, user_id: str) -> None:
        user = self._managed(actor, user_id)
        # Recorded first: once deleted, the user's memberships (the event's brands) may be gone.
        _audit(actor, "user.delete", f"user:{user_id}")
        self.lifecycle.delete(user, now=time.time())

    def reset_mfa(self, actor: User | None, user_id: str) -> User:
        """Remove the user's TOTP and passkeys; through the API only once the admin gave their own second factor."""
        user = self._managed(actor, user_id)
        if not has_second_factor(self.store, user):
            raise ValidationError("MFA is not enabled for this user", field="mfa")
        reset = self.mfa.reset(user, now=time.time())
        _audit(actor, "mfa.reset", f"user:{user.id}")
        try:
            self.notices.mfa_reset(reset)
        except MailFailed as error:
            log.warning("could not mail the MFA reset notice: %s", error.message)
        return reset

    def send_password_reset(self, actor: User | None, user_id: str) -> None:
        user = self._managed(actor, user_id)
        if not user.is_active:
            raise Conflict("the account is disabled; enable it first", field="user")
        self.password_links.send_reset(user, now=time.time())
        _audit(actor, "password.reset_sent", f"user:{user.id}")

    def set_password(self, user_id: str, password: str) -> User:
        """The operator's own way (the `idp` command): the rules apply, and every session ends."""
        user = self._user(None, user_id, manage=True)
        check_new_password(password, email=user.email, first_name=user.first_name, last_name=user.last_name)
        changed = self.lifecycle.revoke_access(
            dataclasses.replace(user, password_hash=hash_password(password)), now=time.time()
        )
        _audit(None, "password.set", f"user:{user.id}")
        return changed
