"""Brand hierarchy rules: membership flows down from a brand to its children."""

from __future__ import annotations

from dataclasses import dataclass

from idp.models import Role, SsoApplication
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


def standing(store: Store, user_id: str, brand_id: str) -> Standing:
    """Admin when the user administers the brand or any ancestor; Agent when merely a member of one."""
    lineage = tuple(brand.id for brand in store.brand_lineage(brand_id))
    roles = {m.brand_id: m.role for m in store.memberships_of(user_id)}
    found = {roles[b] for b in lineage if b in roles}
    role = Role.ADMIN.value if Role.ADMIN in found else (Role.AGENT.value if found else None)
    return Standing(lineage, role)


def brand_for(store: Store, user_id: str, app: SsoApplication) -> tuple[str, Standing] | None:
    """A brand of the user's from which they may open `app`, for logins the SP starts."""
    for membership in store.memberships_of(user_id):
        where = standing(store, user_id, membership.brand_id)
        if where.may_open(app):
            return membership.brand_id, where
    return None
