"""The front door for people: sign in (password, then TOTP when the user has MFA), the app launcher, sign out."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.web import services
from idp.web.csrf import check_csrf
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("front", __name__), back_link="/login")


def _host() -> str:
    """The host the browser asked for, as the app sees it (behind proxies, after ProxyFix)."""
    return request.host


@bp.get("/login")
def login_form() -> Response:
    return render(
        services().flows.front_door.login_form(
            browser(),
            request_key=request.args.get("request"),
            next_path=request.args.get("next"),
            host=_host(),
            brand_hint=request.args.get("brand") or None,
        )
    )


@bp.post("/login")
def login() -> Response:
    check_csrf()
    return render(
        services().flows.front_door.sign_in(
            browser(),
            email=request.form.get("email", ""),
            password=request.form.get("password", ""),
            request_key=request.form.get("request") or None,
            next_path=request.form.get("next") or None,
            host=_host(),
            brand_hint=request.form.get("brand") or None,
        )
    )


@bp.get("/login/totp")
def totp_form() -> Response:
    return render(services().flows.front_door.totp_form(browser(), host=_host()))


@bp.post("/login/totp")
def totp() -> Response:
    check_csrf()
    return render(services().flows.front_door.totp(browser(), code=request.form.get("code"), host=_host()))


@bp.get("/")
def launcher() -> Response:
    return render(services().flows.front_door.launcher(browser(), query=request.args.get("q")))


@bp.post("/launch")
def launch() -> Response:
    """A launcher tile: a fresh link each click, so a tile never goes stale."""
    check_csrf()
    return render(
        services().flows.front_door.open_tile(
            browser(), app_id=request.form.get("app", ""), brand_id=request.form.get("brand", "")
        )
    )


@bp.post("/logout")
def logout() -> Response:
    """Sign out everywhere: single logout to every SP of the session that has an SLO endpoint."""
    check_csrf()
    return render(services().flows.logout.sign_out(browser()))
