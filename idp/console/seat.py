"""Who sits at the admin console: a signed-in user who administers at least one brand, the brands
they administer as a tree, and the brand in view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idp.accounts.people import People
from idp.accounts.sessions import Sessions, SignedIn
from idp.applications.service import Caller
from idp.errors import Forbidden, NotFound, SignInRequired
from idp.models import Brand, User
from idp.signin.outcomes import Browser, Outcome, Page
from idp.store import Store

NOT_AN_ADMIN = "The admin console is for brand administrators. Ask an admin of your brand for access."


@dataclass(frozen=True)
class BrandNode:
    """A brand in the tree the admin sees, `depth` levels below the top-most brand they administer."""

    brand: Brand
    depth: int


@dataclass(frozen=True)
class Seat:
    signed_in: SignedIn
    tree: tuple[BrandNode, ...]  # every brand the admin administers, each parent before its children
    brand: Brand | None = None  # the brand in view, when the page is about one

    @property
    def user(self) -> User:
        return self.signed_in.user

    @property
    def caller(self) -> Caller:
        """The admin as the application services take them; links they mint say whether they passed MFA."""
        return Caller(self.signed_in.user, mfa=self.signed_in.session.mfa)

    def page(self, template: str, status: int = 200, **data: Any) -> Outcome:
        """One of the console's pages: every one shows the seat (the switcher, the brand's sections)."""
        return Outcome(Page(template, {"seat": self, **data}, status))


def _tree(store: Store, administered: set[str]) -> tuple[BrandNode, ...]:
    """The administered brands, depth first, siblings by name; the tops are those whose parent is not administered."""
    brands = {brand_id: brand for brand_id in administered if (brand := store.brand(brand_id)) is not None}
    children: dict[str | None, list[Brand]] = {}
    for brand in brands.values():
        parent = brand.parent_id if brand.parent_id in brands else None
        children.setdefault(parent, []).append(brand)
    nodes: list[BrandNode] = []

    def visit(parent: str | None, depth: int) -> None:
        for brand in sorted(children.get(parent, []), key=lambda b: (b.name.lower(), b.id)):
            nodes.append(BrandNode(brand, depth))
            visit(brand.id, depth + 1)

    visit(None, 0)
    return tuple(nodes)


class Seats:
    def __init__(self, store: Store, sessions: Sessions, people: People) -> None:
        self.store = store
        self.sessions = sessions
        self.people = people

    def take(self, browser: Browser, *, path: str, brand_id: str | None = None) -> Seat:
        """The seat of the browser's user at `path`, about `brand_id` when given.

        Without a session the browser is sent to sign in and come back to `path`; a user who
        administers no brand is refused; a brand they do not administer is not found, whether it
        exists or not, so that the console never tells another brand's ids apart.
        """
        signed_in = self.sessions.signed_in(browser.session_token)
        if signed_in is None:
            raise SignInRequired(path)
        administered = self.people.administered(signed_in.user)
        if not administered:
            raise Forbidden(NOT_AN_ADMIN)
        tree = _tree(self.store, administered)
        if brand_id is None:
            return Seat(signed_in, tree)
        brand = next((node.brand for node in tree if node.brand.id == brand_id), None)
        if brand is None:
            raise NotFound("There is no such brand among those you administer.", field="brand")
        return Seat(signed_in, tree, brand)
