"""Choosing a password in the browser: "forgot password?" and the links it (or an invitation) mails."""

from __future__ import annotations

from idp.accounts.password_links import PasswordLinks, Purpose
from idp.errors import ValidationError
from idp.signin.outcomes import Browser, Outcome, Page

_SENT = (
    "If an account has that address, we have sent it a link to choose a new password. It works for {minutes} minutes."
)


class PasswordFlow:
    def __init__(self, links: PasswordLinks) -> None:
        self.links = links

    def forgot_form(self) -> Outcome:
        return Outcome(Page("forgot.html"))

    def forgot(self, browser: Browser, *, email: str) -> Outcome:
        """The same page whether or not the address has an account."""
        self.links.forgot(email, address=browser.address, now=browser.now)
        return Outcome(Page("forgot_sent.html", {"message": _SENT.format(minutes=self.links.reset_ttl // 60)}))

    def choose_form(self, browser: Browser, *, token: str | None) -> Outcome:
        link = self.links.pending(token, now=browser.now)
        return Outcome(Page("choose_password.html", self._data(token, link.purpose, link.user.email)))

    def choose(self, browser: Browser, *, token: str | None, password: str, confirm: str) -> Outcome:
        link = self.links.pending(token, now=browser.now)
        try:
            if password != confirm:
                raise ValidationError("The two passwords are not the same.", field="password")
            self.links.choose(token, password, now=browser.now)
        except ValidationError as error:
            data = {**self._data(token, link.purpose, link.user.email), "error": _sentence(error.message)}
            return Outcome(Page("choose_password.html", data, 400))
        # Every session of the user ended, this browser's too.
        return Outcome(Page("password_chosen.html"), end_session=True)

    @staticmethod
    def _data(token: str | None, purpose: Purpose, email: str) -> dict[str, str]:
        invited = purpose == Purpose.INVITATION
        return {
            "token": token or "",
            "email": email,
            "heading": "Choose your password" if invited else "Choose a new password",
        }


def _sentence(message: str) -> str:
    text = message[:1].upper() + message[1:]
    return text if text.endswith(".") else text + "."
