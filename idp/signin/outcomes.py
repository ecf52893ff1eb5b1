"""What a flow is given (the browser's side of the conversation) and what it hands back to be rendered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from idp.saml.outbound import PostForm, Redirect

__all__ = ["Browser", "Outcome", "Page", "PostForm", "Redirect", "View"]


@dataclass(frozen=True)
class Browser:
    """The browser's side of a conversation: the cookies it holds, where it is, and when."""

    session_token: str | None
    half_login_token: str | None
    address: str | None
    now: float


@dataclass(frozen=True)
class Page:
    """One of our pages, by template name, with the data it shows."""

    template: str
    data: dict[str, Any] = field(default_factory=dict)
    status: int = 200


View = PostForm | Redirect | Page


@dataclass(frozen=True)
class Outcome:
    """What the browser is shown next, and what it should hold afterwards."""

    view: View
    new_session: str | None = None  # a session began: the browser keeps its token
    end_session: bool = False  # the session is over: the browser forgets it
    half_login: str | None = None  # a password was accepted, the TOTP step is next
    end_half_login: bool = False
