"""The account page (/account) for anyone signed in: password, MFA, recovery codes, sessions."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.web import services
from idp.web.csrf import check_csrf
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("account", __name__), back_link="/account")


@bp.get("/account")
def overview() -> Response:
    return render(services().console.account.overview(browser(), notice=request.args.get("done")))


@bp.post("/account/password")
def change_password() -> Response:
    check_csrf()
    return render(
        services().console.account.change_password(
            browser(),
            current=request.form.get("current_password", ""),
            new=request.form.get("new_password", ""),
            confirm=request.form.get("confirm_password", ""),
        )
    )


@bp.get("/account/mfa")
def mfa() -> Response:
    return render(services().console.account.mfa_page(browser()))


@bp.post("/account/mfa/setup")
def begin_mfa() -> Response:
    check_csrf()
    return render(services().console.account.begin_mfa(browser()))


@bp.post("/account/mfa/verify")
def verify_mfa() -> Response:
    check_csrf()
    return render(services().console.account.verify_mfa(browser(), code=request.form.get("code", "")))


@bp.post("/account/mfa/disable")
def disable_mfa() -> Response:
    check_csrf()
    return render(services().console.account.disable_mfa(browser(), code=request.form.get("code", "")))


@bp.post("/account/recovery-codes")
def replace_recovery_codes() -> Response:
    check_csrf()
    return render(
        services().console.account.replace_recovery_codes(browser(), code=request.form.get("recovery_code", ""))
    )


@bp.post("/account/sessions/end-others")
def end_other_sessions() -> Response:
    check_csrf()
    return render(services().console.account.end_other_sessions(browser()))
