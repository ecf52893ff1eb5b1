"""Brand hierarchy rules: membership flows down from a brand to its children."""

from __future__ import annotations

from idp.models import Role, SsoApplication
from idp.store import Store


def lineage_ids(store: Store, brand_id: str) -> list[str]:
    return [brand.id for brand in store.brand_lineage(brand_id)]


def role_in(store: Store, user_id: str, brand_id: str) -> str | None:
    """Admin when the user administers the brand or any ancestor; Agent when merely a member of one."""
    roles = {m.brand_id: m.role for m in store.memberships_of(user_id)}
    found = [roles[b] for b in lineage_ids(store, brand_id) if b in roles]
    if not found:
        return None
    return Role.ADMIN.value if Role.ADMIN.value in found else Role.AGENT.value


def can_manage(store: Store, user_id: str, brand_id: str) -> bool:
    return role_in(store, user_id, brand_id) == Role.ADMIN.value


def allowed_brand(store: Store, app: SsoApplication, brand_id: str) -> bool:
    """Whether members of `brand_id` may open `app`: it is allowed for the brand or an ancestor."""
    return not set(app.brands).isdisjoint(lineage_ids(store, brand_id))
