"""The mails people get about their account, in plain text and HTML, under their brand's name."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from idp.accounts.branding import BrandLook, Looks, look_of
from idp.accounts.mail import Mailer, Message
from idp.contrast import Palette, palette
from idp.models import Brand, User
from idp.store import Store


def _html(paragraphs: list[str], *, colors: Palette, link: tuple[str, str] | None = None) -> str:
    """A small HTML body: escaped paragraphs and, optionally, one button-like link in the brand's colours."""
    body = "".join(f"<p>{escape(text)}</p>\n" for text in paragraphs)
    if link is not None:
        label, url = link
        body += (
            f'<p><a href="{escape(url, quote=True)}" style="display:inline-block;padding:10px 18px;'
            f"background:{colors.button};color:{colors.on_button};border-radius:6px;"
            f'text-decoration:none">{escape(label)}</a></p>\n'
            f"<p>Or paste this address into your browser: {escape(url)}</p>\n"
        )
    return f'<!doctype html>\n<html><body style="font-family:sans-serif;color:#1a1a1a">\n{body}</body></html>\n'


@dataclass(frozen=True)
class Notices:
    store: Store
    mailer: Mailer
    default_name: str  # IDP_NAME, for a user who belongs to no brand

    def look(self, user: User) -> BrandLook | None:
        """The brand a user knows the service by (see idp.accounts.branding); None for no brand."""
        return Looks(self.store).of_user(user)

    def brand_name(self, user: User) -> str:
        """The name a user knows the service by: their brand's display name, else the service's own."""
        look = self.look(user)
        return look.name if look is not None else self.default_name

    def _send(
        self,
        user: User,
        subject: str,
        paragraphs: list[str],
        link: tuple[str, str] | None = None,
        *,
        look: BrandLook | None = None,
    ) -> None:
        text = "\n\n".join(paragraphs)
        if link is not None:
            text += f"\n\n{link[0]}: {link[1]}"
        look = look or self.look(user)
        colors = look.palette if look is not None else palette(None)
        html = _html(paragraphs, colors=colors, link=link)
        self.mailer.send(Message(to=user.email, subject=subject, body=text + "\n", html=html))

    def invitation(self, user: User, brand: Brand, url: str, *, hours: int) -> None:
        look = look_of(self.store, brand)
        self._send(
            user,
            f"You are invited to {look.name}",
            [
                f"Hello {user.first_name},",
                f"You have been given an account at {look.name} for {user.email}. "
                "Choose your password to start signing in.",
                f"The link works once, for {hours} hours.",
            ],
            ("Choose your password", url),
            look=look,
        )

    def password_reset(self, user: User, url: str, *, minutes: int) -> None:
        name = self.brand_name(user)
        self._send(
            user,
            f"Reset your {name} password",
            [
                f"Hello {user.first_name},",
                f"Someone asked to reset the password of your {name} account ({user.email}). "
                "If it was you, choose a new password; you will be signed out everywhere.",
                f"The link works once, for {minutes} minutes. If you did not ask for it, ignore this mail.",
            ],
            ("Choose a new password", url),
        )

    def recovery_code_used(self, user: User, *, remaining: int) -> None:
        name = self.brand_name(user)
        self._send(
            user,
            f"A recovery code was used on your {name} account",
            [
                f"Hello {user.first_name},",
                f"A recovery code was just used in place of your authenticator app on your {name} account.",
                f"You have {remaining} recovery code{'s' if remaining != 1 else ''} left. "
                "If you did not use it, change your password now and tell your administrator.",
            ],
        )

    def mfa_reset(self, user: User) -> None:
        name = self.brand_name(user)
        self._send(
            user,
            f"Two-step sign-in was removed from your {name} account",
            [
                f"Hello {user.first_name},",
                f"An administrator removed the authenticator app from your {name} account. "
                "You can set it up again after signing in.",
            ],
        )
