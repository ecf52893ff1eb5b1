"""Minting and opening the per-user `open_url` of an application (the link is sealed by idp.saml.links)."""

from __future__ import annotations

from urllib.parse import quote

from idp.config import Settings
from idp.keyring import KeyRing
from idp.saml.links import LaunchLink, open_link, seal_link


class LaunchLinks:
    def __init__(self, settings: Settings, keyring: KeyRing) -> None:
        self.base_url = settings.base_url
        self.ttl = settings.link_ttl
        self.keyring = keyring

    def url(self, *, user_id: str, app_id: str, brand_id: str, mfa: bool, now: float) -> str:
        link_hash = seal_link(
            self.keyring.link_keys,
            self.keyring.current_link_key_id,
            user_id=user_id,
            app_id=app_id,
            brand_id=brand_id,
            expires_at=int(now) + self.ttl,
            mfa=mfa,
            minted_at=now,
        )
        return f"{self.base_url}/sso_applications/open?hash={quote(link_hash, safe='')}"

    def open(self, link_hash: str, *, now: float) -> LaunchLink:
        return open_link(self.keyring.link_keys, link_hash, now=now)

    def minted_before(self, link: LaunchLink, moment: float) -> bool:
        """Whether `link` was minted at or before `moment` (a revocation, to the microsecond).

        A link sealed before links recorded their minting time is dated from its expiry, to the second."""
        minted_at = link.minted_at if link.minted_at is not None else link.expires_at - self.ttl
        return minted_at <= moment
