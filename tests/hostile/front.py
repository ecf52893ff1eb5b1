"""Signing in at the front door through Flask's test client, as a browser would."""

from __future__ import annotations

from tests.api.helpers import parse_page
from tests.support import PASSWORD

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def sign_in(client, user, next_path: str = "", request_key: str = ""):
    """POST the sign-in form (with its CSRF token) and answer the 303."""
    form = parse_page(client.get("/login").get_data(as_text=True)).forms[0]
    fields = {**form.hidden, "email": user.email, "password": PASSWORD, "next": next_path, "request": request_key}
    return client.post("/login", data=fields, headers=SAME_ORIGIN)
