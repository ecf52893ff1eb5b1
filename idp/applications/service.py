"""Creating, changing, listing and deleting a brand's SSO applications, with the brand rules applied."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.applications.access import standing
from idp.applications.fields import check_complete, clean_fields
from idp.applications.icons import reencode_icon
from idp.applications.importing import fields_from_metadata
from idp.applications.links import LaunchLinks
from idp.config import Settings
from idp.errors import Forbidden, IdpError, NotFound, ValidationError
from idp.keyring import KeyRing
from idp.models import Brand, Icon, SsoApplication, User
from idp.saml.algorithms import signature_algorithm
from idp.saml.sp_metadata import parse_sp_metadata
from idp.store import Store


@dataclass(frozen=True)
class Caller:
    """Who acts through the API, and whether their token pair passed MFA (links minted for them say so)."""

    user: User
    mfa: bool = False


@dataclass(frozen=True)
class ShownApp:
    app: SsoApplication
    open_url: str | None  # None when the app is not allowed for the brand it is shown in


@dataclass(frozen=True)
class AppPage:
    items: list[ShownApp]
    total: int


@dataclass(frozen=True)
class Imported:
    shown: ShownApp | None  # None for the operator at the command line, who opens no app
    app: SsoApplication
    created: bool


class Applications:
    """A brand's SSO applications as its admins manage them and its members see them."""

    def __init__(self, store: Store, settings: Settings, links: LaunchLinks | None, *, keyring: KeyRing) -> None:
        """`links` None: no launch links are minted (the `idp` command, which shows no app to a user).
        `keyring` says which signing keys exist: an app may only ask for a signature the IdP can make."""
        self.store = store
        self.settings = settings
        self.links = links
        self.keyring = keyring

    # reading
    def page(self, caller: Caller, brand_id: str, *, start: int = 0, limit: int | None = None) -> AppPage:
        """What a member of the brand sees, ordered by `order` then name.

        Everyone sees the apps allowed for the brand or a parent brand (with an
        open_url); admins also see the apps the brand owns but shares elsewhere.
        """
        self._require_brand(brand_id)
        where = standing(self.store, caller.user.id, brand_id)
        if not where.is_member:
            raise Forbidden("you are not a member of this brand")
        allowed = {app.id: app for app in self.store.apps_allowed_for(where.lineage)}
        listed = [(app, True) for app in allowed.values()]
        if where.is_admin:
            listed += [(app, False) for app in self.store.apps_owned_by(brand_id) if app.id not in allowed]
        listed.sort(key=lambda item: (item[0].order, item[0].name.lower(), item[0].id))
        end = None if limit is None else start + limit
        now = time.time()
        items = [self._shown(caller, brand_id, app, launchable, now) for app, launchable in listed[start:end]]
        return AppPage(items=items, total=len(listed))

    def launchable(self, user: User) -> list[tuple[SsoApplication, str]]:
        """Every app the user may open, once each, with the brand to open it from: the launcher's tiles."""
        seen: dict[str, tuple[SsoApplication, str]] = {}
        for membership in self.store.memberships_of(user.id):
            lineage = standing(self.store, user.id, membership.brand_id).lineage
            for app in self.store.apps_allowed_for(lineage):
                seen.setdefault(app.id, (app, membership.brand_id))
        return sorted(seen.values(), key=lambda item: (item[0].order, item[0].name.lower()))

    def icon(self, app_id: str) -> Icon:
        """The icon to serve: always bytes written by idp.applications.icons, never an upload as sent."""
        app = self.store.app(app_id)
        icon = self.store.icon(app_id) if app is not None and app.icon_type else None
        if icon is None:
            raise NotFound("no icon for this application")
        if not icon.reencoded:
            # Stored before uploads were re-encoded: cleaned on first use, and kept cleaned.
            try:
                icon = reencode_icon(icon.data, max_bytes=len(icon.data))
            except IdpError:
                raise NotFound("no icon for this application") from None
            self.store.save_icon(app_id, icon)
        return icon

    def brand_lineages(self, app: SsoApplication) -> list[list[Brand]]:
        """Each allowed brand followed by its ancestors, for answers that expand them."""
        return [lineage for lineage in map(self.store.brand_lineage, app.brands) if lineage]

    # changing
    def create(self, caller: Caller, brand_id: str, payload: Mapping[str, Any]) -> ShownApp:
        self._require_manager(caller.user, brand_id)
        fields = {"brands": [brand_id], **clean_fields(payload, allow_http=self.settings.allow_http_urls)}
        check_complete(fields)
        self._check_signing_key(fields)
        self._check_brands(caller.user, fields["brands"])
        app = self._new_app(brand_id, fields, now=time.time())
        self.store.save_app(app)
        return self._shown_in(caller, brand_id, app)

    def update(self, caller: Caller, brand_id: str, app_id: str, payload: Mapping[str, Any]) -> ShownApp:
        """Fields present in the body replace the stored ones; absent fields keep their value."""
        self._require_manager(caller.user, brand_id)
        app = self._owned_app(brand_id, app_id)
        changes = clean_fields(payload, allow_http=self.settings.allow_http_urls)
        if "issuer" in changes and changes["issuer"] is None:
            changes["issuer"] = app.issuer
        merged = {**dataclasses.asdict(app), **changes}
        check_complete(merged)
        self._check_signing_key(changes)
        if "brands" in changes:
            self._check_brands(caller.user, [b for b in changes["brands"] if b not in app.brands])
        if "acs_url" in changes and changes["acs_url"] not in {e["url"] for e in app.acs_endpoints}:
            # A new ACS typed by hand replaces the ones the SP's metadata listed: none stays registered unseen.
            changes["acs_endpoints"] = []
        updated = dataclasses.replace(app, **changes, updated_at=time.time())
        self.store.save_app(updated)
        return self._shown_in(caller, brand_id, updated)

    def delete(self, caller: Caller, brand_id: str, app_id: str) -> None:
        self._require_manager(caller.user, brand_id)
        app = self._owned_app(brand_id, app_id)
        self.store.save_app(dataclasses.replace(app, deleted_at=time.time()))

    def set_brands(self, caller: Caller, brand_id: str, app_id: str, brands: Any) -> ShownApp:
        self._require_manager(caller.user, brand_id)
        app = self._owned_app(brand_id, app_id)
        if brands is None:
            raise ValidationError("brands is required", field="brands")
        new_brands = clean_fields({"brands": brands}, allow_http=False)["brands"]
        self._check_brands(caller.user, [b for b in new_brands if b not in app.brands])
        updated = dataclasses.replace(app, brands=new_brands, updated_at=time.time())
        self.store.save_app(updated)
        return self._shown_in(caller, brand_id, updated)

    def set_icon(self, caller: Caller, brand_id: str, app_id: str, data: bytes) -> ShownApp:
        self._require_manager(caller.user, brand_id)
        app = self._owned_app(brand_id, app_id)
        icon = reencode_icon(data, max_bytes=self.settings.icon_max_bytes)
        self.store.save_icon(app.id, icon)
        updated = dataclasses.replace(
            app, icon_type=icon.content_type, icon_version=app.icon_version + 1, updated_at=time.time()
        )
        self.store.save_app(updated)
        return self._shown_in(caller, brand_id, updated)

    def import_metadata(
        self,
        caller: Caller | None,
        brand_id: str,
        xml: bytes,
        *,
        name: str | None = None,
        entity_id: str | None = None,
    ) -> Imported:
        """The app of this brand with the metadata's entityID, updated; or a new one allowed for the brand.

        `caller` None means the operator at the command line, who needs no brand role.
        """
        if caller is not None:
            self._require_manager(caller.user, brand_id)
        else:
            self._require_brand(brand_id)
        meta = parse_sp_metadata(xml, entity_id=entity_id)
        existing = next((app for app in self.store.apps_owned_by(brand_id) if app.entity_id == meta.entity_id), None)
        fields = fields_from_metadata(
            meta, allow_http=self.settings.allow_http_urls, existing=existing, key_types=self._key_types()
        )
        if name is not None:
            fields["name"] = clean_fields({"name": name}, allow_http=False)["name"]
        now = time.time()
        if existing is not None:
            app = dataclasses.replace(existing, **fields, updated_at=now)
        else:
            fields.setdefault("name", urlsplit(meta.entity_id).hostname or meta.entity_id)
            app = self._new_app(brand_id, {"authentication_type": "SAML", "brands": [brand_id], **fields}, now=now)
        self.store.save_app(app)
        shown = self._shown_in(caller, brand_id, app) if caller is not None else None
        return Imported(shown, app, created=existing is None)

    # rules
    def _key_types(self) -> frozenset[str]:
        """The kinds of signing key the IdP holds: "rsa", and "ec" once `idp keys generate --ecdsa` made one."""
        return frozenset({"rsa", "ec"} if self.keyring.has_ecdsa_key else {"rsa"})

    def _check_signing_key(self, fields: Mapping[str, Any]) -> None:
        """An app chooses ECDSA-SHA256 only when there is an EC key to sign with."""
        algorithm = fields.get("signature_algorithm")
        if algorithm is not None and signature_algorithm(algorithm).signing_method.key_type not in self._key_types():
            raise ValidationError(
                f"signature_algorithm {algorithm} needs the identity provider's ECDSA key, and there is none "
                "(an operator makes one with `idp keys generate --ecdsa`)",
                field="signature_algorithm",
            )

    def _require_brand(self, brand_id: str) -> None:
        if self.store.brand(brand_id) is None:
            raise NotFound("no such brand", field="brand")

    def _require_manager(self, actor: User, brand_id: str) -> None:
        self._require_brand(brand_id)
        if not standing(self.store, actor.id, brand_id).is_admin:
            raise Forbidden("only an admin of this brand or of a parent brand may change its applications")

    def _owned_app(self, brand_id: str, app_id: str) -> SsoApplication:
        app = self.store.app(app_id)
        if app is None or app.owner_brand_id != brand_id:
            raise NotFound("no such application in this brand", field="id")
        return app

    def _check_brands(self, actor: User, brand_ids: list[str]) -> None:
        """Apps may be shared only with brands the actor administers (directly or from above)."""
        for brand_id in brand_ids:
            if self.store.brand(brand_id) is None:
                raise ValidationError(f"brands: no brand {brand_id}", field="brands")
            if not standing(self.store, actor.id, brand_id).is_admin:
                raise ValidationError(f"brands: you do not administer brand {brand_id}", field="brands")

    def _new_app(self, brand_id: str, fields: dict[str, Any], *, now: float) -> SsoApplication:
        app_id = str(uuid.uuid4())
        if fields.get("issuer") is None:
            # Each app gets an IdP entityID of its own, fixed at creation so SPs can rely on it.
            fields = {**fields, "issuer": f"{self.settings.base_url}/sso_applications/{app_id}/metadata"}
        return SsoApplication(id=app_id, owner_brand_id=brand_id, created_at=now, updated_at=now, **fields)

    def _shown_in(self, caller: Caller, brand_id: str, app: SsoApplication) -> ShownApp:
        launchable = standing(self.store, caller.user.id, brand_id).may_open(app)
        return self._shown(caller, brand_id, app, launchable, time.time())

    def _shown(self, caller: Caller, brand_id: str, app: SsoApplication, launchable: bool, now: float) -> ShownApp:
        if not launchable or self.links is None:
            return ShownApp(app, None)
        return ShownApp(
            app, self.links.url(user_id=caller.user.id, app_id=app.id, brand_id=brand_id, mfa=caller.mfa, now=now)
        )
