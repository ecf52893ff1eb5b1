"""SCIM provisioning tokens: one root brand each, shown once, stored hashed, checked in constant time."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from idp.accounts.secrets import new_token, same, token_hash
from idp.errors import NotFound, ValidationError
from idp.models import Brand
from idp.store import Store

PREFIX = "scim_"


@dataclass(frozen=True)
class ScimToken:
    id: str
    brand_id: str
    created_at: float


@dataclass(frozen=True)
class NewScimToken:
    token: ScimToken
    secret: str  # the whole bearer value, shown once; only the hash of its secret part is stored


@dataclass(frozen=True)
class ScimScope:
    """What a valid SCIM token may see: its root brand and every brand below it."""

    token_id: str
    root: Brand
    brand_ids: frozenset[str]


def _token(doc: dict[str, object]) -> ScimToken:
    return ScimToken(str(doc["id"]), str(doc["brand_id"]), float(doc["created_at"]))  # type: ignore[arg-type]


class ScimTokens:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, brand_id: str) -> NewScimToken:
        brand = self.store.brand(brand_id)
        if brand is None:
            raise NotFound(f"no brand {brand_id}", field="brand")
        if brand.parent_id is not None:
            raise ValidationError("a SCIM token belongs to a root brand (one without a parent)", field="brand")
        token_id = secrets.token_hex(8)
        secret = new_token()
        doc = {"id": token_id, "brand_id": brand.id, "secret_hash": token_hash(secret), "created_at": time.time()}
        self.store.save_scim_token(token_id, doc)
        return NewScimToken(_token(doc), f"{PREFIX}{token_id}.{secret}")

    def of_brand(self, brand_id: str) -> list[ScimToken]:
        return sorted((_token(doc) for doc in self.store.scim_tokens_of(brand_id)), key=lambda t: t.created_at)

    def revoke(self, token_id: str) -> ScimToken:
        doc = self.store.scim_token(token_id.removeprefix(PREFIX).partition(".")[0])
        if doc is None:
            raise NotFound(f"no SCIM token {token_id}", field="token")
        self.store.drop_scim_token(str(doc["id"]))
        return _token(doc)

    def scope(self, authorization: str | None) -> ScimScope | None:
        """The scope of the token in an `Authorization: Bearer` header; None for any other header."""
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.startswith(PREFIX):
            return None
        token_id, _, secret = credentials.strip().removeprefix(PREFIX).partition(".")
        doc = self.store.scim_token(token_id) if token_id else None
        # The hash of a decoy when there is no such token, so both refusals cost the same.
        if not same(doc["secret_hash"] if doc else token_hash(""), token_hash(secret)) or doc is None:
            return None
        root = self.store.brand(doc["brand_id"])
        if root is None:
            return None
        return ScimScope(token_id, root, frozenset(self._below(root.id)))

    def _below(self, brand_id: str) -> list[str]:
        """The brand and its descendants (a cycle in stored data cannot make this loop)."""
        found: list[str] = []
        pending = [brand_id]
        while pending:
            current = pending.pop()
            if current in found:
                continue
            found.append(current)
            pending.extend(child.id for child in self.store.child_brands(current))
        return found
