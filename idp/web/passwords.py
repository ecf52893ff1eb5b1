"""The browser pages that set a password: "forgot password?" and the mailed reset and invitation links."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.web import services
from idp.web.csrf import check_csrf
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("passwords", __name__), back_link="/login")


@bp.get("/login/forgot")
def forgot_form() -> Response:
    return render(services().flows.passwords.forgot_form())


@bp.post("/login/forgot")
def forgot() -> Response:
    check_csrf()
    return render(services().flows.passwords.forgot(browser(), email=request.form.get("email", "")))


@bp.get("/password")
def choose_form() -> Response:
    return render(services().flows.passwords.choose_form(browser(), token=request.args.get("token")))


@bp.post("/password")
def choose() -> Response:
    check_csrf()
    return render(
        services().flows.passwords.choose(
            browser(),
            token=request.form.get("token"),
            password=request.form.get("password", ""),
            confirm=request.form.get("confirm", ""),
        )
    )
