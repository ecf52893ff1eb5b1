"""Passkeys in the browser: the account's passkeys page, and signing in with one (at the second-factor
step, or alone from the login page). The options a page's script hands to the browser's WebAuthn API
are answered as JSON; what the authenticator answers comes back as an ordinary form post."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from idp.web import services
from idp.web.csrf import check_csrf
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("passkeys", __name__), back_link="/login")


def _options(options: dict[str, Any]) -> Response:
    response = jsonify(options)
    response.headers["Cache-Control"] = "no-store"
    return response


# the account's passkeys


@bp.get("/account/passkeys")
def passkeys() -> Response:
    return render(services().console.passkeys.page(browser(), done=request.args.get("done")))


@bp.post("/account/passkeys/options")
def registration_options() -> Response:
    check_csrf()
    return _options(services().console.passkeys.registration_options(browser()))


@bp.post("/account/passkeys")
def register() -> Response:
    check_csrf()
    return render(
        services().console.passkeys.register(
            browser(), credential=request.form.get("credential"), name=request.form.get("name")
        )
    )


@bp.post("/account/passkeys/rename")
def rename() -> Response:
    check_csrf()
    return render(
        services().console.passkeys.rename(
            browser(), credential_id=request.form.get("passkey", ""), name=request.form.get("name")
        )
    )


@bp.post("/account/passkeys/remove")
def remove() -> Response:
    check_csrf()
    return render(services().console.passkeys.remove(browser(), credential_id=request.form.get("passkey", "")))


@bp.post("/account/passkeys/sign-in")
def sign_in_setting() -> Response:
    check_csrf()
    enabled = request.form.get("passkey_sign_in") == "on"
    return render(services().console.passkeys.sign_in_setting(browser(), enabled=enabled))


# signing in


@bp.post("/login/totp/passkey/options")
def second_factor_options() -> Response:
    check_csrf()
    return _options(services().flows.front_door.second_factor_options(browser()))


@bp.post("/login/totp/passkey")
def second_factor() -> Response:
    check_csrf()
    return render(
        services().flows.front_door.passkey_second_factor(
            browser(), credential=request.form.get("credential"), host=request.host
        )
    )


@bp.post("/login/passkey/options")
def sign_in_options() -> Response:
    check_csrf()
    return _options(services().flows.front_door.passkey_options())


@bp.post("/login/passkey")
def passkey_sign_in() -> Response:
    check_csrf()
    return render(
        services().flows.front_door.passkey_sign_in(
            browser(),
            credential=request.form.get("credential"),
            request_key=request.form.get("request") or None,
            next_path=request.form.get("next") or None,
            host=request.host,
            brand_hint=request.form.get("brand") or None,
        )
    )
