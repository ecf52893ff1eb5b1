"""The console's pages through Flask's test client: a brand tree with admins and agents, each signed
in with a browser (a test client with its own cookies) of their own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import html

from idp.models import User
from tests.api.conftest import pki, smtp  # noqa: F401  (the real SMTP server, for pages that mail)
from tests.api.people_helpers import Tree, browser_sign_in, make_tree
from tests.support import PASSWORD


@pytest.fixture
def tree(make) -> Tree:
    return make_tree(make)


@pytest.fixture
def signed_in(app) -> Callable[[User], object]:
    """A browser signed in at /login as the user (without MFA)."""

    def sign_in(user: User):
        return browser_sign_in(app, user.email)

    return sign_in


def document(response) -> html.HtmlElement:
    """The page as an HTML tree, to read it as a person (or axe) would: by its elements, not by substrings."""
    assert response.content_type.startswith("text/html"), response.content_type
    return html.fromstring(response.get_data(as_text=True))


def sign_in_from(app, user: User, next_path: str):
    """The login form reached with `?next=`, filled in as the user: the answer to its post."""
    browser = app.test_client()
    form = document(browser.get(f"/login?next={next_path}"))
    return browser.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": form.xpath("//input[@name='csrf_token']/@value")[0],
            "next": form.xpath("//input[@name='next']/@value")[0],
        },
        headers={"Sec-Fetch-Site": "same-origin"},
    )
