"""SCIM Groups over our brands, within one token's scope: the token's root brand and the brands below it.

A token changes memberships only in its own brands; a group's members are Agents, and those our
extension lists as admins are Admins. A brand made through SCIM is an Office under the root unless
the extension says otherwise.
"""

from __future__ import annotations

import dataclasses
import time

from scim2_models import ConflictException, ForbiddenException, InvalidValueException, NotFoundException

from idp.accounts.provisioning import create_brand
from idp.errors import ValidationError
from idp.models import Brand, BrandType, Membership, Role
from idp.scim.resources import GROUP, USER, invalid, stamp
from idp.scim.schema import BrandDetails, Member, ScimGroup
from idp.scim.users import DirectoryUsers
from idp.store import Store
from idp.text import clean_text


class DirectoryGroups:
    def __init__(self, store: Store, users: DirectoryUsers) -> None:
        self.store = store
        self.users = users  # whose scope is the token's, widened when a group is made
        self.root = users.root

    def visible(self, brand_id: str) -> Brand:
        brand = self.store.brand(brand_id) if brand_id in self.users.scope.brand_ids else None
        if brand is None:
            raise NotFoundException(detail=f"Group {brand_id!r} not found")
        return brand

    def all_visible(self) -> list[Brand]:
        brands = (self.store.brand(brand_id) for brand_id in sorted(self.users.scope.brand_ids))
        return [brand for brand in brands if brand is not None]

    def resource(self, brand: Brand) -> ScimGroup:
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
        resource[BrandDetails] = BrandDetails(admins=admins or None, brand_type=brand.brand_type)
        stamp(resource, GROUP, created=brand.created_at, updated=brand.updated_at)
        return resource

    def create(self, resource: ScimGroup) -> Brand:
        details = resource[BrandDetails] or BrandDetails(brand_type=None)
        brand_type = details.brand_type or BrandType.OFFICE.value
        roles = self._wanted_roles(resource)
        try:
            brand = create_brand(self.store, resource.display_name or "", parent_id=self.root, brand_type=brand_type)
        except ValidationError as error:
            raise invalid(error) from None
        scope = self.users.scope
        self.users.scope = dataclasses.replace(scope, brand_ids=scope.brand_ids | {brand.id})
        self.store.save_scim_record(self.root, GROUP, brand.id, resource.external_id)
        self._set_members(brand, roles)
        return brand

    def update(self, brand: Brand, resource: ScimGroup) -> Brand:
        roles = self._wanted_roles(resource)
        try:
            name = clean_text("displayName", resource.display_name, max_length=200)
        except ValidationError as error:
            raise invalid(error) from None
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

    def delete(self, brand: Brand) -> None:
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
            if user is None or not self.users.is_visible(user):
                raise InvalidValueException(detail=f"no user {user_id!r} in this token's brands")
        return roles

    def _set_members(self, brand: Brand, roles: dict[str, str]) -> None:
        current = {m.user_id: m.role for m in self.store.memberships_in(brand.id)}
        for user_id in current.keys() - roles.keys():
            self.store.drop_membership(user_id, brand.id)
        for user_id, role in roles.items():
            if current.get(user_id) != role:
                self.store.save_membership(Membership(user_id, brand.id, role))
