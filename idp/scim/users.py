"""SCIM Users over our accounts, within one token's scope: who the token sees, the resource shown, and
the changes it may make.

- a user is visible to a token when they belong to one of its brands, or were provisioned by it;
- a token changes an account (name, address, custom attributes, `active`, deletion) only when every
  brand the user belongs to is one of its brands: a person who also works for another brokerage
  is that brokerage's too.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from typing import Any, Protocol

from scim2_models import (
    ForbiddenException,
    GroupMembership,
    NotFoundException,
    ScimFilter,
    UniquenessException,
)

from idp.accounts.provisioning import EMAIL
from idp.errors import Conflict, ValidationError
from idp.models import Membership, Role, User
from idp.scim.custom_attributes import attribute_entries, attributes_of
from idp.scim.resources import USER, invalid, stamp
from idp.scim.schema import EmailAddress, PersonName, Phone, ScimUser, UserProfile
from idp.scim.tokens import ScimScope
from idp.store import Store
from idp.text import clean_text


class AccountLifecycle(Protocol):
    """Disabling, enabling and deleting an account: each takes effect everywhere before it returns."""

    def disable(self, user: User, *, now: float) -> User: ...

    def enable(self, user: User, *, now: float) -> User: ...

    def delete(self, user: User, *, now: float) -> User: ...


def _user_name_equals(scim_filter: ScimFilter[Any] | None) -> str | None:
    """The address of a `userName eq "..."` filter (the lookup every provisioning client makes first).

    Attribute names and operators are case-insensitive (RFC 7644 section 3.4.2.2), and so is userName."""
    match = re.fullmatch(r'\s*userName\s+eq\s+"([^"\\]*)"\s*', str(scim_filter), re.IGNORECASE) if scim_filter else None
    return match.group(1) if match else None


class DirectoryUsers:
    def __init__(self, store: Store, scope: ScimScope, lifecycle: AccountLifecycle) -> None:
        self.store = store
        self.scope = scope
        self.root = scope.root.id
        self.lifecycle = lifecycle

    # -- who the token sees ----------------------------------------------

    def visible(self, user_id: str) -> User:
        user = self.store.user(user_id)
        if user is None or not self.is_visible(user):
            raise NotFoundException(detail=f"User {user_id!r} not found")
        return user

    def is_visible(self, user: User) -> bool:
        if self.store.scim_record(self.root, USER, user.id) is not None:
            return True
        return any(m.brand_id in self.scope.brand_ids for m in self.store.memberships_of(user.id))

    def all_visible(self, scim_filter: ScimFilter[Any] | None) -> list[User]:
        """Every user the token sees; just the one holding the address, for `userName eq "..."`."""
        address = _user_name_equals(scim_filter)
        if address is not None:
            user = self.store.user_by_email(address)
            return [user] if user is not None and self.is_visible(user) else []
        ids: dict[str, None] = {}
        for record in self.store.scim_records(self.root, USER):
            ids[record["id"]] = None
        for brand_id in sorted(self.scope.brand_ids):
            for membership in self.store.memberships_in(brand_id):
                ids[membership.user_id] = None
        users = (self.store.user(user_id) for user_id in ids)
        return [user for user in users if user is not None]

    # -- the resource ----------------------------------------------------

    def resource(self, user: User) -> ScimUser:
        record = self.store.scim_record(self.root, USER, user.id) or {}
        memberships = [m for m in self.store.memberships_of(user.id) if m.brand_id in self.scope.brand_ids]
        brands = {m.brand_id: self.store.brand(m.brand_id) for m in memberships}
        # What the provisioning client sent, when it made this user; otherwise the sign-in address and phone.
        if record:
            emails = [EmailAddress(**email) for email in record.get("emails") or []]
            phones = [Phone(**phone) for phone in record.get("phone_numbers") or []]
        else:
            emails = [EmailAddress(value=user.email, type="work", primary=True)]
            phones = [Phone(value=user.phone_number, type="work", primary=True)] if user.phone_number else []
        resource = ScimUser(
            id=user.id,
            external_id=record.get("external_id"),
            user_name=user.email,
            name=PersonName(given_name=user.first_name or None, family_name=user.last_name or None)
            if user.first_name or user.last_name
            else None,
            display_name=user.display_name or None,
            active=user.is_active,
            emails=emails or None,
            phone_numbers=phones or None,
            groups=[
                GroupMembership.model_validate(
                    {"value": brand_id, "$ref": f"Groups/{brand_id}", "display": brand.name, "type": "direct"}
                )
                for brand_id, brand in sorted(brands.items())
                if brand is not None
            ]
            or None,
        )
        if user.attributes:
            resource[UserProfile] = UserProfile(attributes=attribute_entries(user.attributes))
        stamp(resource, USER, created=user.created_at, updated=user.updated_at)
        return resource

    # -- changes ---------------------------------------------------------

    def create(self, resource: ScimUser) -> User:
        fields = self._account_fields(resource)
        now = time.time()
        user = User(id=str(uuid.uuid4()), password_hash=None, created_at=now, updated_at=now, **fields)
        try:
            self.store.save_user(user)
        except Conflict:
            raise UniquenessException(detail="a user already has this userName") from None
        self.store.save_membership(Membership(user.id, self.root, Role.AGENT.value))
        self._record(user.id, resource)
        if resource.active is False:
            user = self.lifecycle.disable(user, now=now)
        return user

    def update(self, user: User, resource: ScimUser) -> User:
        fields = self._account_fields(resource)
        changed = {name: value for name, value in fields.items() if getattr(user, name) != value}
        active = user.is_active if resource.active is None else resource.active
        if changed or active != user.is_active:
            self._require_manageable(user)
        now = time.time()
        if changed:
            user = dataclasses.replace(user, **changed, updated_at=now)
            try:
                self.store.save_user(user)
            except Conflict:
                raise UniquenessException(detail="a user already has this userName") from None
        if active != user.is_active:
            user = self.lifecycle.enable(user, now=now) if active else self.lifecycle.disable(user, now=now)
        self._record(user.id, resource)
        return self.store.user(user.id) or user

    def delete(self, user: User) -> None:
        self._require_manageable(user)
        self.lifecycle.delete(user, now=time.time())  # soft, as the admin API's: the record stays for history
        self.store.drop_scim_record(self.root, USER, user.id)

    def _require_manageable(self, user: User) -> None:
        outside = [m for m in self.store.memberships_of(user.id) if m.brand_id not in self.scope.brand_ids]
        if outside:
            raise ForbiddenException(detail="this user also belongs to brands this token does not manage")

    def _account_fields(self, resource: ScimUser) -> dict[str, Any]:
        """The User fields a SCIM user sets, checked as every other way in checks them."""
        try:
            email = clean_text("userName", resource.user_name, max_length=254)
            if not EMAIL.match(email):
                raise ValidationError("userName must be an email address", field="userName")
            name = resource.name or PersonName()
            first = clean_text("name.givenName", name.given_name or "", max_length=100, required=False)
            last = clean_text("name.familyName", name.family_name or "", max_length=100, required=False)
            phones = resource.phone_numbers or []
            phone = next((p.value for p in phones if p.primary), phones[0].value if phones else None)
            phone = clean_text("phoneNumbers.value", phone, max_length=40) if phone else None
            profile = resource[UserProfile]
            attributes = attributes_of(profile.attributes if profile else None)
        except ValidationError as error:
            raise invalid(error) from None
        return {
            "email": email,
            "first_name": first,
            "last_name": last,
            "phone_number": phone,
            "attributes": attributes,
        }

    def _record(self, user_id: str, resource: ScimUser) -> None:
        """Keep what the client sent that our accounts do not hold (its externalId, every address and phone)."""
        emails = [e.model_dump(exclude_none=True) for e in resource.emails or []]
        phones = [p.model_dump(exclude_none=True) for p in resource.phone_numbers or []]
        try:
            for item in (*emails, *phones):
                clean_text("value", item.get("value", ""), max_length=254, required=False)
                clean_text("type", item.get("type", ""), max_length=40, required=False)
        except ValidationError as error:
            raise invalid(error) from None
        self.store.save_scim_record(self.root, USER, user_id, resource.external_id, emails=emails, phone_numbers=phones)
