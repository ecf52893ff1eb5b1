"""The brands of one SCIM token, as scim2-server's storage: users and brands read and written as SCIM resources.

scim2-server does the protocol (validation, PATCH, PUT semantics, preconditions, attribute
projection, list responses); this module only maps our store to its resources and back, and
holds the rules of who may change what:
- a user is visible to a token when they belong to one of its brands, or were provisioned by it;
- a token changes an account (name, address, custom attributes, `active`, deletion) only when every
  brand the user belongs to is one of its brands: a person who also works for another brokerage
  is that brokerage's too;
- a token changes memberships only in its own brands.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from scim2_models import (
    ConflictException,
    ForbiddenException,
    GroupMembership,
    InvalidValueException,
    Meta,
    NotFoundException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimFilter,
    SearchRequest,
    UniquenessException,
)
from scim2_server.storage import ScimStorage, SearchPage
from scim2_server.utils import parametrize

from idp.accounts.provisioning import EMAIL, create_brand
from idp.errors import Conflict, ValidationError
from idp.models import Brand, BrandType, Membership, Role, User
from idp.scim.custom_attributes import attribute_entries, attributes_of
from idp.scim.schema import (
    BrandDetails,
    EmailAddress,
    Member,
    PersonName,
    Phone,
    ScimGroup,
    ScimUser,
    UserProfile,
)
from idp.scim.tokens import ScimScope
from idp.store import Store
from idp.telemetry import audit
from idp.text import clean_text

USER = "User"
GROUP = "Group"


class AccountLifecycle(Protocol):
    """Disabling, enabling and deleting an account: each takes effect everywhere before it returns."""

    def disable(self, user: User, *, now: float) -> User: ...

    def enable(self, user: User, *, now: float) -> User: ...

    def delete(self, user: User, *, now: float) -> User: ...


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _version(resource: Resource[Any]) -> str:
    """A weak ETag over everything the resource says, so any change to it (a membership too) changes it."""
    doc = resource.model_dump(exclude={"meta"})
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    return f'W/"{digest[:20]}"'


def _invalid(error: ValidationError) -> InvalidValueException:
    return InvalidValueException(detail=error.message)


class BrandDirectory(ScimStorage):
    """One request's view of the store, through one token's scope."""

    def __init__(self, store: Store, scope: ScimScope, lifecycle: AccountLifecycle) -> None:
        self.store = store
        self.scope = scope
        self.root = scope.root.id
        self.lifecycle = lifecycle

    # -- scim2-server's storage interface --------------------------------

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        if resource_type.name == USER:
            return self._user_resource(self._visible_user(resource_id))
        return self._group_resource(self._brand(resource_id))

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        # The store has no query language, so a filter is evaluated here, by scim2-models, over the
        # token's resources; without a filter or a sort only the page asked for is built.
        users = self._visible_users(search_request.filter) if any(t.name == USER for t in resource_types) else []
        brands = self._brands() if any(t.name == GROUP for t in resource_types) else []
        start = search_request.start_index_0 or 0
        stop = None if search_request.count is None else start + search_request.count
        if search_request.filter is None and search_request.sort_by is None:
            things: list[User | Brand] = [*sorted(users, key=lambda u: u.id), *sorted(brands, key=lambda b: b.id)]
            page = [self._resource(thing) for thing in things[start:stop]]
            return SearchPage(len(things), page)
        everything: list[User | Brand] = [*users, *brands]
        candidates = [self._resource(thing) for thing in everything]
        scim_filter = search_request.filter
        if scim_filter is not None and not scim_filter.models and candidates:
            models = tuple(dict.fromkeys(type(resource) for resource in candidates))
            scim_filter = parametrize(ScimFilter, models[0] if len(models) == 1 else models)(str(scim_filter))
        found = [resource for resource in candidates if scim_filter is None or scim_filter.match(resource)]
        found.sort(key=lambda resource: (str(resource.meta.resource_type if resource.meta else ""), str(resource.id)))
        if search_request.sort_by is not None:
            descending = search_request.sort_order == SearchRequest.SortOrder.descending

            def sort_key(resource: Resource[Any]) -> tuple[bool, Any]:
                value = search_request.sort_value(resource)
                return value is None, value if value is not None else ""

            found.sort(key=sort_key, reverse=descending)
        return SearchPage(len(found), found[start:stop])

    def _resource(self, thing: User | Brand) -> Resource[Any]:
        return self._user_resource(thing) if isinstance(thing, User) else self._group_resource(thing)

    def _audit(self, change: str, thing: User | Brand) -> None:
        """A change a provisioning client made: it belongs to the token's root brand (and the group's own)."""
        kind = "user" if isinstance(thing, User) else "group"
        brands = [self.root] if isinstance(thing, User) else sorted({self.root, thing.id})
        target = f"user:{thing.id}" if isinstance(thing, User) else f"brand:{thing.id}"
        details = {"token": self.scope.token_id}
        audit.record(audit.AuditEvent(f"scim.{kind}.{change}", target=target, brand_ids=brands, details=details))

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        if resource_type.name == USER:
            user = self._create_user(cast(ScimUser, resource))
            self._audit("create", user)
            return self._user_resource(user)
        brand = self._create_group(cast(ScimGroup, resource))
        self._audit("create", brand)
        return self._group_resource(brand)

    def update(
        self, resource_type: ResourceType, resource: Resource[Any], *, expected_version: str | None = None
    ) -> Resource[Any]:
        current = self.get(resource_type, str(resource.id))
        self._check_version(current, expected_version)
        if resource_type.name == USER:
            user = self._update_user(self._visible_user(str(resource.id)), cast(ScimUser, resource))
            self._audit("update", user)
            return self._user_resource(user)
        brand = self._update_group(self._brand(str(resource.id)), cast(ScimGroup, resource))
        self._audit("update", brand)
        return self._group_resource(brand)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None) -> None:
        self._check_version(self.get(resource_type, resource_id), expected_version)
        thing: User | Brand = (
            self._visible_user(resource_id) if resource_type.name == USER else self._brand(resource_id)
        )
        if isinstance(thing, User):
            self._delete_user(thing)
        else:
            self._delete_group(thing)
        self._audit("delete", thing)

    @staticmethod
    def _check_version(current: Resource[Any], expected_version: str | None) -> None:
        assert current.meta is not None
        if expected_version is not None and current.meta.version != expected_version:
            raise PreconditionFailedException

    # -- users ---------------------------------------------------------------

    def _visible_user(self, user_id: str) -> User:
        user = self.store.user(user_id)
        if user is None or not self._is_visible(user):
            raise NotFoundException(detail=f"User {user_id!r} not found")
        return user

    def _is_visible(self, user: User) -> bool:
        if self.store.scim_record(self.root, USER, user.id) is not None:
            return True
        return any(m.brand_id in self.scope.brand_ids for m in self.store.memberships_of(user.id))

    def _visible_users(self, scim_filter: ScimFilter[Any] | None) -> list[User]:
        """Every user the token sees; just the one holding the address, for `userName eq "..."`."""
        address = _user_name_equals(scim_filter)
        if address is not None:
            user = self.store.user_by_email(address)
            return [user] if user is not None and self._is_visible(user) else []
        ids: dict[str, None] = {}
        for record in self.store.scim_records(self.root, USER):
            ids[record["id"]] = None
        for brand_id in sorted(self.scope.brand_ids):
            for membership in self.store.memberships_in(brand_id):
                ids[membership.user_id] = None
        users = (self.store.user(user_id) for user_id in ids)
        return [user for user in users if user is not None]

    def _require_manageable(self, user: User) -> None:
        outside = [m for m in self.store.memberships_of(user.id) if m.brand_id not in self.scope.brand_ids]
        if outside:
            raise ForbiddenException(detail="this user also belongs to brands this token does not manage")

    def _user_resource(self, user: User) -> ScimUser:
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
        resource.meta = Meta(
            resource_type=USER,
            created=_when(user.created_at),
            last_modified=_when(user.updated_at),
            version=_version(resource),
        )
        return resource

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
            raise _invalid(error) from None
        return {
            "email": email,
            "first_name": first,
            "last_name": last,
            "phone_number": phone,
            "attributes": attributes,
        }

    def _record_user(self, user_id: str, resource: ScimUser) -> None:
        emails = [e.model_dump(exclude_none=True) for e in resource.emails or []]
        phones = [p.model_dump(exclude_none=True) for p in resource.phone_numbers or []]
        try:
            for item in (*emails, *phones):
                clean_text("value", item.get("value", ""), max_length=254, required=False)
                clean_text("type", item.get("type", ""), max_length=40, required=False)
        except ValidationError as error:
            raise _invalid(error) from None
        self.store.save_scim_record(self.root, USER, user_id, resource.external_id, emails=emails, phone_numbers=phones)

    def _create_user(self, resource: ScimUser) -> User:
        fields = self._account_fields(resource)
        now = time.time()
        user = User(id=str(uuid.uuid4()), password_hash=None, created_at=now, updated_at=now, **fields)
        try:
            self.store.save_user(user)
        except Conflict:
            raise UniquenessException(detail="a user already has this userName") from None
        self.store.save_membership(Membership(user.id, self.root, Role.AGENT.value))
        self._record_user(user.id, resource)
        if resource.active is False:
            user = self.lifecycle.disable(user, now=now)
        return user

    def _update_user(self, user: User, resource: ScimUser) -> User:
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
        self._record_user(user.id, resource)
        return self.store.user(user.id) or user

    def _delete_user(self, user: User) -> None:
        self._require_manageable(user)
        self.lifecycle.delete(user, now=time.time())  # soft, as the admin API's: the record stays for history
        self.store.drop_scim_record(self.root, USER, user.id)

    # -- groups (brands) -------------------------------------------------------

    def _brand(self, brand_id: str) -> Brand:
        brand = self.store.brand(brand_id) if brand_id in self.scope.brand_ids else None
        if brand is None:
            raise NotFoundException(detail=f"Group {brand_id!r} not found")
        return brand

    def _brands(self) -> list[Brand]:
        brands = (self.store.brand(brand_id) for brand_id in sorted(self.scope.brand_ids))
        return [brand for brand in brands if brand is not None]

    def _group_resource(self, brand: Brand) -> ScimGroup:
        record = self.store.scim_record(self.root, GROUP, brand.id) or {}
        members: list[Member] = []
        admins: list[Member] = []
        for membership in sorted(self.store.memberships_in(brand.id), key=lambda m: m.user_id):
            user = self.store.user(membership.user_id)
            if user is None:
                continue
            member = Member.model_validate(
                {"value": user.id, "$ref": f"Users/{user.id}", "type": USER, "display": user.display_name or None}
            )
            members.append(member)
            if membership.role == Role.ADMIN.value:
                admins.append(member.model_copy())
        resource = ScimGroup(id=brand.id, external_id=record.get("external_id"), display_name=brand.name)
        resource.members = members or None
        resource[BrandDetails] = BrandDetails(
            admins=admins or None,
            brand_type=brand.brand_type,
        )
        resource.meta = Meta(
            resource_type=GROUP,
            created=_when(brand.created_at),
            last_modified=_when(brand.updated_at),
            version=_version(resource),
        )
        return resource

    def _create_group(self, resource: ScimGroup) -> Brand:
        details = resource[BrandDetails] or BrandDetails(brand_type=None)
        brand_type = details.brand_type or BrandType.OFFICE.value
        roles = self._wanted_roles(resource)
        try:
            brand = create_brand(self.store, resource.display_name or "", parent_id=self.root, brand_type=brand_type)
        except ValidationError as error:
            raise _invalid(error) from None
        self.scope = dataclasses.replace(self.scope, brand_ids=self.scope.brand_ids | {brand.id})
        self.store.save_scim_record(self.root, GROUP, brand.id, resource.external_id)
        self._set_members(brand, roles)
        return brand

    def _update_group(self, brand: Brand, resource: ScimGroup) -> Brand:
        roles = self._wanted_roles(resource)
        try:
            name = clean_text("displayName", resource.display_name, max_length=200)
        except ValidationError as error:
            raise _invalid(error) from None
        details = resource[BrandDetails] or BrandDetails(brand_type=None)
        brand_type = details.brand_type or brand.brand_type
        if brand_type not in {t.value for t in BrandType}:
            raise InvalidValueException(detail="brandType must be Brokerage, Office or Team")
        if (name, brand_type) != (brand.name, brand.brand_type):
            brand = dataclasses.replace(brand, name=name, brand_type=brand_type, updated_at=time.time())
            self.store.save_brand(brand)
        self.store.save_scim_record(self.root, GROUP, brand.id, resource.external_id)
        self._set_members(brand, roles)
        return brand

    def _wanted_roles(self, resource: ScimGroup) -> dict[str, str]:
        """The role of each member a group asks for: Agent, or Admin for those our extension lists as admins."""
        details = resource[BrandDetails] or BrandDetails(brand_type=None)
        roles = {member.value: Role.AGENT.value for member in resource.members or [] if member.value}
        roles |= {admin.value: Role.ADMIN.value for admin in details.admins or [] if admin.value}
        for member in [*(resource.members or []), *(details.admins or [])]:
            if member.type not in (None, USER) or not member.value:
                raise InvalidValueException(detail="a member must be a User, named by its id in value")
        for user_id in roles:
            user = self.store.user(user_id)
            if user is None or not self._is_visible(user):
                raise InvalidValueException(detail=f"no user {user_id!r} in this token's brands")
        return roles

    def _set_members(self, brand: Brand, roles: dict[str, str]) -> None:
        current = {m.user_id: m.role for m in self.store.memberships_in(brand.id)}
        for user_id in current.keys() - roles.keys():
            self.store.drop_membership(user_id, brand.id)
        for user_id, role in roles.items():
            if current.get(user_id) != role:
                self.store.save_membership(Membership(user_id, brand.id, role))

    def _delete_group(self, brand: Brand) -> None:
        if brand.id == self.root:
            raise ForbiddenException(detail="the token's own brand cannot be deleted through SCIM")
        if self.store.child_brands(brand.id):
            raise ConflictException(detail="this brand has brands below it; delete those first")
        if self.store.apps_owned_by(brand.id) or self.store.apps_allowed_for([brand.id]):
            raise ConflictException(detail="this brand has SSO applications; remove them first")
        for membership in self.store.memberships_in(brand.id):
            self.store.drop_membership(membership.user_id, brand.id)
        self.store.drop_scim_record(self.root, GROUP, brand.id)
        self.store.drop_brand(brand.id)


def _user_name_equals(scim_filter: ScimFilter[Any] | None) -> str | None:
    """The address of a `userName eq "..."` filter (the lookup every provisioning client makes first).

    Attribute names and operators are case-insensitive (RFC 7644 section 3.4.2.2), and so is userName."""
    match = re.fullmatch(r'\s*userName\s+eq\s+"([^"\\]*)"\s*', str(scim_filter), re.IGNORECASE) if scim_filter else None
    return match.group(1) if match else None
