"""The brands of one SCIM token, as scim2-server's storage: users and brands read and written as SCIM resources.

scim2-server does the protocol (validation, PATCH, PUT semantics, preconditions, attribute
projection, list responses); this module only hands each operation to users.py or groups.py, which
map our store to resources and back and hold the rules of who may change what, and records each
change in the audit log.
"""

from __future__ import annotations

from typing import Any, cast

from scim2_models import (
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimFilter,
    SearchRequest,
)
from scim2_server.storage import ScimStorage, SearchPage
from scim2_server.utils import parametrize

from idp.models import Brand, User
from idp.scim.groups import DirectoryGroups
from idp.scim.resources import GROUP, USER
from idp.scim.schema import ScimGroup, ScimUser
from idp.scim.tokens import ScimScope
from idp.scim.users import AccountLifecycle, DirectoryUsers
from idp.store import Store
from idp.telemetry import audit

__all__ = ["AccountLifecycle", "BrandDirectory"]


class BrandDirectory(ScimStorage):
    """One request's view of the store, through one token's scope."""

    def __init__(self, store: Store, scope: ScimScope, lifecycle: AccountLifecycle) -> None:
        self.users = DirectoryUsers(store, scope, lifecycle)
        self.groups = DirectoryGroups(store, self.users)
        self.root = scope.root.id

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        if resource_type.name == USER:
            return self.users.resource(self.users.visible(resource_id))
        return self.groups.resource(self.groups.visible(resource_id))

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        # The store has no query language, so a filter is evaluated here, by scim2-models, over the
        # token's resources; without a filter or a sort only the page asked for is built.
        wanted = {resource_type.name for resource_type in resource_types}
        users = self.users.all_visible(search_request.filter) if USER in wanted else []
        brands = self.groups.all_visible() if GROUP in wanted else []
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

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        if resource_type.name == USER:
            user = self.users.create(cast(ScimUser, resource))
            self._audit("create", user)
            return self.users.resource(user)
        brand = self.groups.create(cast(ScimGroup, resource))
        self._audit("create", brand)
        return self.groups.resource(brand)

    def update(
        self, resource_type: ResourceType, resource: Resource[Any], *, expected_version: str | None = None
    ) -> Resource[Any]:
        self._check_version(self.get(resource_type, str(resource.id)), expected_version)
        if resource_type.name == USER:
            user = self.users.update(self.users.visible(str(resource.id)), cast(ScimUser, resource))
            self._audit("update", user)
            return self.users.resource(user)
        brand = self.groups.update(self.groups.visible(str(resource.id)), cast(ScimGroup, resource))
        self._audit("update", brand)
        return self.groups.resource(brand)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None) -> None:
        self._check_version(self.get(resource_type, resource_id), expected_version)
        if resource_type.name == USER:
            user = self.users.visible(resource_id)
            self.users.delete(user)
            self._audit("delete", user)
        else:
            brand = self.groups.visible(resource_id)
            self.groups.delete(brand)
            self._audit("delete", brand)

    def _resource(self, thing: User | Brand) -> Resource[Any]:
        return self.users.resource(thing) if isinstance(thing, User) else self.groups.resource(thing)

    @staticmethod
    def _check_version(current: Resource[Any], expected_version: str | None) -> None:
        assert current.meta is not None
        if expected_version is not None and current.meta.version != expected_version:
            raise PreconditionFailedException

    def _audit(self, change: str, thing: User | Brand) -> None:
        """A change a provisioning client made: it belongs to the token's root brand (and the group's own)."""
        kind = "user" if isinstance(thing, User) else "group"
        brands = [self.root] if isinstance(thing, User) else sorted({self.root, thing.id})
        target = f"user:{thing.id}" if isinstance(thing, User) else f"brand:{thing.id}"
        details = {"token": self.users.scope.token_id}
        audit.record(audit.AuditEvent(f"scim.{kind}.{change}", target=target, brand_ids=brands, details=details))
