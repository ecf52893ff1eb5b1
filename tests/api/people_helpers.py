"""What the people tests share: a brand tree with admins, agents and outsiders, and calls made as one of them."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from idp.accounts.secrets import hash_password
from idp.models import Brand, User
from tests.api.helpers import TokenHolder
from tests.api.test_second_factor import sign_in
from tests.support import PASSWORD, Factory


@dataclass
class Tree:
    """A brokerage with an office under it, and a second, unrelated brokerage.

    root_admin administers the brokerage (so the office too); office_admin only the office;
    agent is an agent of the office; shared belongs to the office and to the other brokerage;
    outsider belongs only to the other brokerage.
    """

    root: Brand
    office: Brand
    other: Brand
    root_admin: User
    office_admin: User
    agent: User
    shared: User
    outsider: User


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def person(make: Factory, brand: Brand, role: str, first_name: str, last_name: str) -> User:
    """A user whose password is PASSWORD, hashed once per test run (argon2 is slow on purpose)."""
    user = make.user(brand=brand, role=role, first_name=first_name, last_name=last_name, password=None)  # type: ignore[arg-type]
    user = dataclasses.replace(user, password_hash=_password_hash())
    make.store.save_user(user)
    return user


def make_tree(make: Factory) -> Tree:
    root = make.brand("Acme Realty")
    office = make.brand("Acme Downtown", parent=root, brand_type="Office")
    other = make.brand("Other Homes")
    shared = person(make, office, "Agent", "Sam", "Shared")
    make.member(shared, other, "Agent")
    return Tree(
        root=root,
        office=office,
        other=other,
        root_admin=person(make, root, "Admin", "Rita", "Root"),
        office_admin=person(make, office, "Admin", "Otto", "Office"),
        agent=person(make, office, "Agent", "Ada", "Agent"),
        shared=shared,
        outsider=person(make, other, "Agent", "Olga", "Outsider"),
    )


class As(TokenHolder):
    """Calls the API as users, one token each."""

    def call(self, user: User, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **kw):
        return self.client.open(path, method=method, json=body, headers={**self.headers(user), **(headers or {})}, **kw)


def signs_in(client, api, email: str, password: str = PASSWORD) -> bool:
    response = sign_in(client, api, email, password)
    assert response.status_code in (200, 400), response.json
    return response.status_code == 200


SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def csrf_of(response) -> str:
    from tests.api.helpers import parse_page

    return parse_page(response.get_data(as_text=True)).forms[0].hidden["csrf_token"]


def browser_sign_in(app, email: str, password: str = PASSWORD):
    """A browser of its own (a test client with its own cookies), signed in at /login without MFA."""
    browser = app.test_client()
    form = browser.get("/login")
    answer = browser.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form)},
        headers=SAME_ORIGIN,
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return browser


def is_signed_in(browser) -> bool:
    """The launcher shows; without a live IdP session it sends the browser to /login."""
    answer = browser.get("/")
    assert answer.status_code in (200, 303)
    return answer.status_code == 200
