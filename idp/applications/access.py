"""Brand hierarchy rules: membership flows down from a brand to its children; who may open which app."""

from __future__ import annotations

from dataclasses import dataclass

from idp.errors import AccessRevoked
from idp.models import Brand, Membership, Role, SsoApplication, User
from idp.store import Store


@dataclass(frozen=True)
class Standing:
    """Where a user stands in a brand: the brand's lineage (itself, then its ancestors) and the user's role."""

    lineage: tuple[str, ...]
    role: str | None

    @property
    def is_member(self) -> bool:
        return self.role is not None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def may_open(self, app: SsoApplication) -> bool:
        """Members may open apps allowed for the brand or for any of its ancestors."""
        return self.is_member and not set(app.brands).isdisjoint(self.lineage)


@dataclass(frozen=True)
class Placement:
    """The brand a user opens an app from, and their role there."""

    brand: Brand
    role: str
    member_of: tuple[tuple[Brand, str], ...] = ()  # every brand the user is a member of, with the role there


def member_of(store: Store, user: User) -> tuple[tuple[Brand, str], ...]:
    """The user's memberships as (brand, role), by brand name, for the attributes brand_ids, brand_names, roles."""
    return _member_of(store, store.memberships_of(user.id), {})


def _member_of(store: Store, memberships: list[Membership], known: dict[str, Brand]) -> tuple[tuple[Brand, str], ...]:
    """`memberships` as (brand, role), by brand name; the brands in `known` are not read again."""
    missing = [m.brand_id for m in memberships if m.brand_id not in known]
    brands = {**known, **{brand.id: brand for brand in store.brands_by_id(missing)}} if missing else known
    members = [(brands[m.brand_id], m.role) for m in memberships if m.brand_id in brands]
    return tuple(sorted(members, key=lambda item: (item[0].name.lower(), item[0].id)))


def standing(store: Store, user_id: str, brand_id: str) -> Standing:
    """Admin when the user administers the brand or any ancestor; Agent when merely a member of one."""
    lineage = tuple(brand.id for brand in store.brand_lineage(brand_id))
    return _standing(lineage, store.memberships_of(user_id))


def _standing(lineage: tuple[str, ...], memberships: list[Membership]) -> Standing:
    roles = {m.brand_id: m.role for m in memberships}
    found = {roles[b] for b in lineage if b in roles}
    role = Role.ADMIN.value if Role.ADMIN in found else (Role.AGENT.value if found else None)
    return Standing(lineage, role)


def may_launch(store: Store, app: SsoApplication | None, user: User | None, brand: Brand | None) -> Placement:
    """Where the user opens the app from, when they still may (active, a member, the app still allowed).

    The user's memberships and each brand are read once: the same reads decide the standing and
    give the attributes.
    """
    if app is None or user is None or brand is None or not user.is_active:
        raise AccessRevoked("this application or account is no longer available")
    lineage = [brand, *store.brand_lineage(brand.parent_id)] if brand.parent_id else [brand]
    memberships = store.memberships_of(user.id)
    where = _standing(tuple(dict.fromkeys(b.id for b in lineage)), memberships)
    if not where.may_open(app):
        raise AccessRevoked("you no longer have access to this application")
    return Placement(brand, where.role or "", _member_of(store, memberships, {b.id: b for b in lineage}))


def placement_for(store: Store, user: User, app: SsoApplication) -> Placement | None:
    """A brand of the user's from which they may open `app`, for logins the SP starts; None if none."""
    for membership in store.memberships_of(user.id):
        where = standing(store, user.id, membership.brand_id)
        brand = store.brand(membership.brand_id)
        if where.may_open(app) and brand is not None:
            return Placement(brand, where.role or "", member_of(store, user))
    return None


def sender_apps(store: Store, issuer: str, *, endpoint_app_id: str | None) -> list[SsoApplication]:
    """The applications an SP's message may come from: the one whose endpoint it was sent to, else
    every live app registered for its entityID (brands may share one SP, as AWS has all its customers do)."""
    if endpoint_app_id:
        app = store.app(endpoint_app_id)
        return [app] if app is not None else []
    return store.apps_by_entity_id(issuer)
