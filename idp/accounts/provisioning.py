"""Creating brands, users and API clients (used by the `idp` command)."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from idp.accounts.custom_attributes import AttributeValue, clean_attributes
from idp.accounts.passwords import check_new_password
from idp.accounts.secrets import hash_password, new_token, token_hash
from idp.errors import NotFound, ValidationError
from idp.models import Brand, BrandType, Client, Membership, Role, User
from idp.store import Store
from idp.text import clean_text

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_brand(store: Store, name: str, *, parent_id: str | None = None, brand_type: str = "Brokerage") -> Brand:
    name = clean_text("name", name, max_length=200)
    if brand_type not in {t.value for t in BrandType}:
        raise ValidationError("type must be Brokerage, Office or Team", field="type")
    if parent_id is not None and store.brand(parent_id) is None:
        raise NotFound(f"no brand {parent_id}", field="parent")
    now = time.time()
    brand = Brand(str(uuid.uuid4()), name, brand_type, parent_id, now, now)
    store.save_brand(brand)
    return brand


def update_brand(store: Store, brand_id: str, *, name: str | None = None, brand_type: str | None = None) -> Brand:
    brand = store.brand(brand_id)
    if brand is None:
        raise NotFound(f"no brand {brand_id}", field="brand")
    if brand_type is not None and brand_type not in {t.value for t in BrandType}:
        raise ValidationError("type must be Brokerage, Office or Team", field="type")
    updated = dataclasses.replace(
        brand,
        name=clean_text("name", name, max_length=200) if name is not None else brand.name,
        brand_type=brand_type or brand.brand_type,
        updated_at=time.time(),
    )
    store.save_brand(updated)
    return updated


def create_user(
    store: Store,
    email: str,
    *,
    first_name: str,
    last_name: str,
    password: str | None = None,
    brand_id: str | None = None,
    role: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> User:
    email = clean_text("email", email, max_length=254)
    if not EMAIL.match(email):
        raise ValidationError("email must be an email address", field="email")
    first_name = clean_text("first_name", first_name, max_length=100)
    last_name = clean_text("last_name", last_name, max_length=100)
    if (brand_id is None) != (role is None):
        raise ValidationError("brand and role go together", field="role" if brand_id else "brand")
    if role is not None and role not in {r.value for r in Role}:
        raise ValidationError("role must be Admin or Agent", field="role")
    if brand_id is not None and store.brand(brand_id) is None:
        raise NotFound(f"no brand {brand_id}", field="brand")
    if password is not None:
        check_new_password(password, email=email, first_name=first_name, last_name=last_name)
    custom = clean_attributes({key: value for key, value in (attributes or {}).items() if value not in ("", [])})
    now = time.time()
    user = User(
        id=str(uuid.uuid4()),
        email=email,
        first_name=first_name,
        last_name=last_name,
        password_hash=hash_password(password) if password is not None else None,
        created_at=now,
        updated_at=now,
        attributes=custom,
    )
    store.save_user(user)
    if brand_id is not None and role is not None:
        store.save_membership(Membership(user.id, brand_id, role))
    return user


def add_member(store: Store, user_id: str, brand_id: str, role: str) -> Membership:
    if store.user(user_id) is None:
        raise NotFound(f"no user {user_id}", field="user")
    if store.brand(brand_id) is None:
        raise NotFound(f"no brand {brand_id}", field="brand")
    if role not in {r.value for r in Role}:
        raise ValidationError("role must be Admin or Agent", field="role")
    membership = Membership(user_id, brand_id, role)
    store.save_membership(membership)
    return membership


@dataclass(frozen=True)
class NewClient:
    client: Client
    secret: str  # shown once; only its hash is stored


def create_client(store: Store, name: str) -> NewClient:
    name = clean_text("name", name, max_length=200)
    secret = new_token()
    client = Client(str(uuid.uuid4()), name, token_hash(secret), time.time())
    store.save_client(client)
    return NewClient(client, secret)
