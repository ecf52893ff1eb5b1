"""Launch links: a user, an app and a brand, sealed (idp.sealing) under the rotating link keys."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from idp.errors import LinkExpired, LinkInvalid
from idp.sealing import SealBroken, seal, unseal

_CONTEXT = b"launch-link"


@dataclass(frozen=True)
class LaunchLink:
    user_id: str
    app_id: str
    brand_id: str
    expires_at: int
    nonce: str
    mfa: bool = False  # minted from a token pair that passed MFA
    minted_at: float | None = None  # to the microsecond; None in links sealed before it was recorded


def seal_link(
    keys: dict[str, bytes],
    key_id: str,
    *,
    user_id: str,
    app_id: str,
    brand_id: str,
    expires_at: int,
    mfa: bool = False,
    minted_at: float | None = None,
) -> str:
    """A fresh, single-use hash for this user, app and brand, sealed with `key_id`."""
    payload = {"u": user_id, "a": app_id, "b": brand_id, "e": expires_at, "n": secrets.token_hex(16), "m": mfa}
    if minted_at is not None:
        payload["i"] = round(minted_at, 6)
    return seal(keys, key_id, json.dumps(payload, separators=(",", ":")).encode(), context=_CONTEXT)


def open_link(keys: dict[str, bytes], link_hash: str, *, now: float) -> LaunchLink:
    """The link's contents; LinkInvalid when it was not sealed by us, LinkExpired when too old."""
    try:
        payload = json.loads(unseal(keys, link_hash, context=_CONTEXT))
        link = LaunchLink(
            user_id=payload["u"],
            app_id=payload["a"],
            brand_id=payload["b"],
            expires_at=int(payload["e"]),
            nonce=payload["n"],
            mfa=payload.get("m") is True,
            minted_at=float(payload["i"]) if "i" in payload else None,
        )
    except (SealBroken, ValueError, KeyError, TypeError) as exc:
        raise LinkInvalid("the link is not one of ours") from exc
    if now >= link.expires_at:
        raise LinkExpired("the link has expired")
    return link
