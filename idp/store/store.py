"""The one storage interface the services use, built on a backend's primitives."""

from __future__ import annotations

import base64
import dataclasses
import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from idp.models import Brand, Client, Grant, Icon, Membership, Passkey, SsoApplication, User
from idp.store.backend import Backend, Write

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

# Brands, users and clients are also indexed under one value, so that they can be listed.
_EVERY_KEY = ("every", "*")
_EVERY = {_EVERY_KEY[0]: [_EVERY_KEY[1]]}
# The unique value a brand holds for each of its host names is named by this prefix and the name.
HOSTNAME_CLAIM = "hostname:"


def _to_doc(value: DataclassInstance) -> dict[str, Any]:
    return dataclasses.asdict(value)


@functools.cache
def _field_names(cls: type[DataclassInstance]) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _from_doc(cls: type[T], doc: dict[str, Any] | None) -> T | None:
    if doc is None:
        return None
    names = _field_names(cls)
    return cls(**{k: v for k, v in doc.items() if k in names})


class Store:
    """Brands, users, clients, applications, grants and one-time claims."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def close(self) -> None:
        self.backend.close()

    # brands
    def save_brand(self, brand: Brand) -> None:
        """Create or update; raises Conflict(field=HOSTNAME_CLAIM + name) when another brand holds one of its
        host names (each name is a unique value of its own, so a brand holds as many as it lists)."""
        index = {"parent": [brand.parent_id]} if brand.parent_id else {}
        unique = {HOSTNAME_CLAIM + hostname: hostname for hostname in brand.hostnames}
        self.backend.put("brand", brand.id, _to_doc(brand), index={**index, **_EVERY}, unique=unique)

    def brand(self, brand_id: str) -> Brand | None:
        return _from_doc(Brand, self.backend.get("brand", brand_id))

    def brand_by_hostname(self, hostname: str) -> Brand | None:
        """The brand that lists `hostname` (lower case, without a port) among its `hostnames`."""
        brand_id = self.backend.find_unique("brand", HOSTNAME_CLAIM + hostname, hostname)
        return self.brand(brand_id) if brand_id else None

    def save_brand_logo(self, brand_id: str, logo: Icon) -> None:
        """A brand's logo: bytes written by idp.applications.icons, never an upload as sent."""
        self.backend.put(
            "brand-logo", brand_id, {"content_type": logo.content_type, "data": base64.b64encode(logo.data).decode()}
        )

    def brand_logo(self, brand_id: str) -> Icon | None:
        doc = self.backend.get("brand-logo", brand_id)
        if doc is None:
            return None
        return Icon(doc["content_type"], base64.b64decode(doc["data"]), reencoded=True)

    def drop_brand_logo(self, brand_id: str) -> bool:
        return self.backend.delete("brand-logo", brand_id)

    def brands(self) -> list[Brand]:
        """Every brand saved since listing was indexed, by name."""
        docs = self.backend.get_many("brand", self.backend.find("brand", *_EVERY_KEY))
        return sorted((Brand(**doc) for doc in docs), key=lambda brand: (brand.name.lower(), brand.id))

    def child_brands(self, brand_id: str) -> list[Brand]:
        return [Brand(**doc) for doc in self.backend.get_many("brand", self.backend.find("brand", "parent", brand_id))]

    def brands_by_id(self, brand_ids: Iterable[str]) -> list[Brand]:
        """The brands that exist among `brand_ids`, in one read."""
        return [Brand(**doc) for doc in self.backend.get_many("brand", brand_ids)]

    def drop_brand(self, brand_id: str) -> bool:
        self.backend.delete("brand-logo", brand_id)
        return self.backend.delete("brand", brand_id)

    def brand_lineage(self, brand_id: str) -> list[Brand]:
        """The brand followed by its parent, grandparent, ... up to the root."""
        lineage: list[Brand] = []
        seen: set[str] = set()
        current = self.brand(brand_id)
        while current is not None and current.id not in seen:
            lineage.append(current)
            seen.add(current.id)
            current = self.brand(current.parent_id) if current.parent_id else None
        return lineage

    # users and memberships
    def save_user(self, user: User) -> None:
        """Create or update; raises Conflict(field='email') when another user has the address.

        A deleted user keeps its record but lets go of its address, so it can be given to a new account.
        """
        address = user.email.lower() if user.deleted_at is None else f"\0deleted:{user.id}"
        self.backend.put("user", user.id, _to_doc(user), index=_EVERY, unique={"email": address})

    def replace_user_if(self, user: User, expect: Mapping[str, Any]) -> bool:
        """Save `user` only if the stored record still has each field of `expect` (strings, numbers,
        booleans, None) at the value given; False, and nothing written, when one changed meanwhile."""
        address = user.email.lower() if user.deleted_at is None else f"\0deleted:{user.id}"
        write = Write("user", user.id, _to_doc(user), index=_EVERY, unique={"email": address})
        return self.backend.swap("user", user.id, expect, [write])

    def user(self, user_id: str) -> User | None:
        """A user that is not deleted (disabled ones included)."""
        user = _from_doc(User, self.backend.get("user", user_id))
        return user if user is not None and user.deleted_at is None else None

    def users(self) -> list[User]:
        """Every live user saved since listing was indexed."""
        docs = self.backend.get_many("user", self.backend.find("user", *_EVERY_KEY))
        found = (_from_doc(User, doc) for doc in docs)
        return [user for user in found if user is not None and user.deleted_at is None]

    def user_by_email(self, email: str) -> User | None:
        user_id = self.backend.find_unique("user", "email", email.lower())
        return self.user(user_id) if user_id else None

    def save_membership(self, membership: Membership) -> None:
        self.backend.put(
            "membership",
            f"{membership.brand_id}:{membership.user_id}",
            _to_doc(membership),
            index={"user": [membership.user_id], "brand": [membership.brand_id]},
        )

    def memberships_of(self, user_id: str) -> list[Membership]:
        keys = self.backend.find("membership", "user", user_id)
        return [Membership(**doc) for doc in self.backend.get_many("membership", keys)]

    def memberships_in(self, brand_id: str) -> list[Membership]:
        keys = self.backend.find("membership", "brand", brand_id)
        return [Membership(**doc) for doc in self.backend.get_many("membership", keys)]

    def membership(self, user_id: str, brand_id: str) -> Membership | None:
        return _from_doc(Membership, self.backend.get("membership", f"{brand_id}:{user_id}"))

    def drop_membership(self, user_id: str, brand_id: str) -> bool:
        return self.backend.delete("membership", f"{brand_id}:{user_id}")

    # API clients
    def save_client(self, client: Client) -> None:
        self.backend.put("client", client.id, _to_doc(client), index=_EVERY)

    def client(self, client_id: str) -> Client | None:
        return _from_doc(Client, self.backend.get("client", client_id))

    def clients(self) -> list[Client]:
        docs = self.backend.get_many("client", self.backend.find("client", *_EVERY_KEY))
        return sorted((Client(**doc) for doc in docs), key=lambda client: (client.created_at, client.id))

    def drop_client(self, client_id: str) -> bool:
        return self.backend.delete("client", client_id)

    # SSO applications
    def save_app(self, app: SsoApplication) -> None:
        index: dict[str, Iterable[str]] = {}
        if app.deleted_at is None:
            index = {"owner": [app.owner_brand_id], "allowed": app.brands}
            if app.entity_id:
                index["entity_id"] = [app.entity_id]
        self.backend.put("app", app.id, _to_doc(app), index=index)

    def app(self, app_id: str) -> SsoApplication | None:
        """A live application; deleted ones are gone for every caller."""
        app = _from_doc(SsoApplication, self.backend.get("app", app_id))
        return app if app is not None and app.deleted_at is None else None

    def apps_by_entity_id(self, entity_id: str) -> list[SsoApplication]:
        """Usually one; several brands may register the same service provider."""
        return self._apps(self.backend.find("app", "entity_id", entity_id))

    def apps_owned_by(self, brand_id: str) -> list[SsoApplication]:
        return self._apps(self.backend.find("app", "owner", brand_id))

    def apps_allowed_for(self, brand_ids: Iterable[str]) -> list[SsoApplication]:
        keys = {key for brand_id in brand_ids for key in self.backend.find("app", "allowed", brand_id)}
        return self._apps(sorted(keys))

    def _apps(self, keys: list[str]) -> list[SsoApplication]:
        docs = self.backend.get_many("app", keys)
        return [app for app in (SsoApplication(**doc) for doc in docs) if app.deleted_at is None]

    def save_icon(self, app_id: str, icon: Icon) -> None:
        doc = {
            "content_type": icon.content_type,
            "data": base64.b64encode(icon.data).decode(),
            "reencoded": icon.reencoded,
        }
        self.backend.put("icon", app_id, doc)

    def icon(self, app_id: str) -> Icon | None:
        doc = self.backend.get("icon", app_id)
        if doc is None:
            return None
        return Icon(doc["content_type"], base64.b64decode(doc["data"]), reencoded=doc.get("reencoded", False))

    # token grants, stored under the hash of the token
    @staticmethod
    def _grant_write(token_hash: str, grant: Grant, ttl: float) -> Write:
        index = {
            "family": [grant.family_id],
            "pair": [grant.pair_id],
            "user": [grant.user_id],
            "client": [grant.client_id],
        }
        return Write("grant", token_hash, _to_doc(grant), ttl=ttl, index=index)

    def save_grant(self, token_hash: str, grant: Grant, ttl: float) -> None:
        write = self._grant_write(token_hash, grant, ttl)
        self.backend.put(write.kind, write.key, write.doc, ttl=write.ttl, index=write.index)

    def replace_grant_if(
        self, token_hash: str, expect_kind: str, replacement: Grant, ttl: float, new: Mapping[str, tuple[Grant, float]]
    ) -> bool:
        """In one step: if the grant under `token_hash` is still of `expect_kind`, replace it and save the
        `new` grants (token hash -> grant, ttl); False, and nothing written, when it is not."""
        writes = [self._grant_write(token_hash, replacement, ttl)]
        writes += [self._grant_write(hashed, grant, grant_ttl) for hashed, (grant, grant_ttl) in new.items()]
        return self.backend.swap("grant", token_hash, {"kind": expect_kind}, writes)

    def grant(self, token_hash: str) -> Grant | None:
        return _from_doc(Grant, self.backend.get("grant", token_hash))

    def grants_by(self, index: str, value: str) -> dict[str, Grant]:
        """Live grants by token hash, found by 'family', 'pair', 'user' or 'client'."""
        found = ((key, self.grant(key)) for key in self.backend.find("grant", index, value))
        return {key: grant for key, grant in found if grant is not None}

    def drop_grant(self, token_hash: str) -> bool:
        return self.backend.delete("grant", token_hash)

    # email codes for the second factor: [{"hash", "expires_at"}]
    def email_codes(self, user_id: str) -> list[dict[str, Any]]:
        doc = self.backend.get("email-codes", user_id)
        return doc["codes"] if doc else []

    def save_email_codes(self, user_id: str, codes: list[dict[str, Any]], ttl: float) -> None:
        self.backend.put("email-codes", user_id, {"codes": codes}, ttl=ttl)

    def drop_email_codes(self, user_id: str) -> None:
        self.backend.delete("email-codes", user_id)

    # MFA recovery codes: {"hashes": [...], "version": "..."}, replaced whole by a swap
    def recovery_codes(self, user_id: str) -> dict[str, Any] | None:
        return self.backend.get("recovery-codes", user_id)

    def save_recovery_codes(self, user_id: str, doc: dict[str, Any]) -> None:
        self.backend.put("recovery-codes", user_id, doc)

    def replace_recovery_codes_if(self, user_id: str, version: str, doc: dict[str, Any]) -> bool:
        """Write `doc` only if the stored codes are still at `version`: two uses never both succeed."""
        return self.backend.swap(
            "recovery-codes", user_id, {"version": version}, [Write("recovery-codes", user_id, doc)]
        )

    def drop_recovery_codes(self, user_id: str) -> None:
        self.backend.delete("recovery-codes", user_id)

    # passkeys (WebAuthn credentials), by credential id, findable by user
    def save_passkey(self, passkey: Passkey) -> None:
        self.backend.put("passkey", passkey.credential_id, _to_doc(passkey), index={"user": [passkey.user_id]})

    def passkey(self, credential_id: str) -> Passkey | None:
        return _from_doc(Passkey, self.backend.get("passkey", credential_id))

    def passkeys_of(self, user_id: str) -> list[Passkey]:
        """The user's passkeys, oldest first."""
        docs = self.backend.get_many("passkey", self.backend.find("passkey", "user", user_id))
        found = (_from_doc(Passkey, doc) for doc in docs)
        return sorted((p for p in found if p is not None), key=lambda p: (p.created_at, p.credential_id))

    def replace_passkey_if(self, passkey: Passkey, version: str) -> bool:
        """Write `passkey` only if the stored one is still at `version`: of two uses at once, one moves its counter."""
        write = Write("passkey", passkey.credential_id, _to_doc(passkey), index={"user": [passkey.user_id]})
        return self.backend.swap("passkey", passkey.credential_id, {"version": version}, [write])

    def drop_passkey(self, credential_id: str) -> bool:
        return self.backend.delete("passkey", credential_id)

    def drop_passkeys_of(self, user_id: str) -> int:
        keys = self.backend.find("passkey", "user", user_id)
        for key in keys:
            self.backend.delete("passkey", key)
        return len(keys)

    # WebAuthn challenges: each answers one ceremony, once, for a few minutes
    def save_passkey_challenge(self, challenge: str, doc: dict[str, Any], ttl: float) -> None:
        self.backend.put("passkey-challenge", challenge, doc, ttl=ttl)

    def take_passkey_challenge(self, challenge: str) -> dict[str, Any] | None:
        """The challenge's document, to the first caller only; None when unknown, expired or taken already."""
        doc = self.backend.get("passkey-challenge", challenge)
        if doc is None or not self.backend.claim_once(f"passkey-challenge:{challenge}", 3600):
            return None
        self.backend.delete("passkey-challenge", challenge)
        return doc

    # single-use links that set a password (reset, invitation), by the hash of their token
    def save_password_link(self, key: str, doc: dict[str, Any], ttl: float, user_id: str) -> None:
        self.backend.put("password-link", key, doc, ttl=ttl, index={"user": [user_id]})

    def password_link(self, key: str) -> dict[str, Any] | None:
        return self.backend.get("password-link", key)

    def drop_password_links(self, user_id: str) -> None:
        for key in self.backend.find("password-link", "user", user_id):
            self.backend.delete("password-link", key)

    # IdP sessions, by the hash of their cookie, findable by the SP sessions they hold and by user
    def save_session(
        self, key: str, doc: dict[str, Any], ttl: float, sp_sessions: list[str], user_id: str | None = None
    ) -> None:
        index = {"sp-session": sp_sessions, "user": [user_id] if user_id else []}
        self.backend.put("session", key, doc, ttl=ttl, index=index)

    def sessions_of(self, user_id: str) -> list[str]:
        return self.backend.find("session", "user", user_id)

    def session_doc(self, key: str) -> dict[str, Any] | None:
        return self.backend.get("session", key)

    def drop_session(self, key: str) -> None:
        self.backend.delete("session", key)

    def sessions_holding(self, sp_session: str) -> list[str]:
        return self.backend.find("session", "sp-session", sp_session)

    # short-lived browser state: IdP sessions, sign-ins half done, SP requests waiting for a sign-in
    def save_transient(self, kind: str, key: str, doc: dict[str, Any], ttl: float) -> None:
        self.backend.put(kind, key, doc, ttl=ttl)

    def transient(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.backend.get(kind, key)

    def drop_transient(self, kind: str, key: str) -> None:
        self.backend.delete(kind, key)

    # which keys each worker uses, as it reports them, for `idp keys status`
    def save_key_report(self, worker: str, report: dict[str, Any], ttl: float) -> None:
        self.backend.put("key-report", worker, report, ttl=ttl, index={"all": ["workers"]})

    def key_reports(self) -> list[dict[str, Any]]:
        return self.backend.get_many("key-report", self.backend.find("key-report", "all", "workers"))

    # single-use values: launch nonces, rotated refresh tokens, TOTP steps, email codes
    def claim_once(self, key: str, ttl: float) -> bool:
        return self.backend.claim_once(key, ttl)

    # events in a sliding window, for throttling
    def record_event(self, key: str, at: float, window: float) -> None:
        self.backend.record_event(key, at, window)

    def events_since(self, key: str, since: float) -> list[float]:
        return self.backend.events_since(key, since)

    def clear_events(self, key: str) -> None:
        self.backend.clear_events(key)

    # SCIM: provisioning tokens (one root brand each, the secret stored hashed), and what a
    # provisioning client told us of a resource (its externalId), by root brand
    def save_scim_token(self, token_id: str, doc: dict[str, Any]) -> None:
        self.backend.put("scim-token", token_id, doc, index={"brand": [doc["brand_id"]]})

    def scim_token(self, token_id: str) -> dict[str, Any] | None:
        return self.backend.get("scim-token", token_id)

    def scim_tokens_of(self, brand_id: str) -> list[dict[str, Any]]:
        return self.backend.get_many("scim-token", self.backend.find("scim-token", "brand", brand_id))

    def drop_scim_token(self, token_id: str) -> bool:
        return self.backend.delete("scim-token", token_id)

    def save_scim_record(self, root_id: str, kind: str, resource_id: str, external_id: str | None, **kept: Any) -> None:
        """That a provisioning client of `root_id` manages this resource, the externalId it gave it, and
        what else of it only SCIM speaks of (`kept`: the emails and phone numbers as it sent them)."""
        index = {"root": [f"{root_id}:{kind}"]}
        doc = {**kept, "root_id": root_id, "kind": kind, "id": resource_id, "external_id": external_id}
        self.backend.put("scim-record", f"{root_id}:{kind}:{resource_id}", doc, index=index)

    def scim_record(self, root_id: str, kind: str, resource_id: str) -> dict[str, Any] | None:
        return self.backend.get("scim-record", f"{root_id}:{kind}:{resource_id}")

    def scim_records(self, root_id: str, kind: str) -> list[dict[str, Any]]:
        return self.backend.get_many("scim-record", self.backend.find("scim-record", "root", f"{root_id}:{kind}"))

    def drop_scim_record(self, root_id: str, kind: str, resource_id: str) -> None:
        self.backend.delete("scim-record", f"{root_id}:{kind}:{resource_id}")

    # audit events, under keys that sort by time (`<nanoseconds, zero-padded>-<id>`), findable by
    # brand, by user (actor or target) and by action, and by the same within a brand
    def save_audit_event(
        self, key: str, doc: dict[str, Any], ttl: float, *, brand_ids: Iterable[str], user_ids: Iterable[str]
    ) -> None:
        brands, users, action = sorted(set(brand_ids)), sorted(set(user_ids)), doc["action"]
        index = {
            **_EVERY,
            "brand": brands,
            "user": users,
            "action": [action],
            "brand-action": [f"{brand}:{action}" for brand in brands],
        }
        self.backend.put("audit", key, doc, ttl=ttl, index=index)

    def audit_keys(self, index: str | None = None, value: str | None = None) -> list[str]:
        """The keys of the live events, oldest first; of those indexed under (`index`, `value`) when given."""
        keys = self.backend.find("audit", index, value) if index and value else self.backend.find("audit", *_EVERY_KEY)
        return sorted(keys)

    def audit_events(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        return self.backend.get_many("audit", keys)
