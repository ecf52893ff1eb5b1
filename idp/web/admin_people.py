"""The admin console's people pages: a brand's members (/admin/brands/<brand>/members) and its audit
events (/admin/brands/<brand>/events)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.console.events import EventFilter
from idp.console.members import Invitation
from idp.web import services
from idp.web.csrf import check_csrf
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("admin_people", __name__), back_link="/admin")

MEMBERS = "/admin/brands/<brand_id>/members"
MEMBER = MEMBERS + "/<user_id>"


@bp.get(MEMBERS)
def members(brand_id: str) -> Response:
    args = request.args
    return render(
        services().console.members.listing(
            browser(),
            brand_id=brand_id,
            query=args.get("q", ""),
            page=args.get("page"),
            done=args.get("done"),
            user_id=args.get("user"),
        )
    )


@bp.get(MEMBERS + "/invite")
def invite_form(brand_id: str) -> Response:
    return render(services().console.members.invite_form(browser(), brand_id=brand_id))


@bp.post(MEMBERS + "/invite")
def invite(brand_id: str) -> Response:
    check_csrf()
    form = request.form
    invitation = Invitation(
        email=form.get("email", ""),
        first_name=form.get("first_name", ""),
        last_name=form.get("last_name", ""),
        role=form.get("role", ""),
    )
    return render(services().console.members.invite(browser(), brand_id=brand_id, invitation=invitation))


@bp.get(MEMBER)
def member(brand_id: str, user_id: str) -> Response:
    return render(
        services().console.members.show(browser(), brand_id=brand_id, user_id=user_id, done=request.args.get("done"))
    )


@bp.post(MEMBER + "/role")
def set_role(brand_id: str, user_id: str) -> Response:
    check_csrf()
    return render(
        services().console.members.set_role(
            browser(), brand_id=brand_id, user_id=user_id, role=request.form.get("role", "")
        )
    )


@bp.post(MEMBER + "/disable")
def disable(brand_id: str, user_id: str) -> Response:
    check_csrf()
    return render(services().console.members.disable(browser(), brand_id=brand_id, user_id=user_id))


@bp.post(MEMBER + "/enable")
def enable(brand_id: str, user_id: str) -> Response:
    check_csrf()
    return render(services().console.members.enable(browser(), brand_id=brand_id, user_id=user_id))


@bp.post(MEMBER + "/password-reset")
def password_reset(brand_id: str, user_id: str) -> Response:
    check_csrf()
    return render(services().console.members.send_password_reset(browser(), brand_id=brand_id, user_id=user_id))


@bp.get(MEMBER + "/remove")
def remove_form(brand_id: str, user_id: str) -> Response:
    return render(services().console.members.remove_form(browser(), brand_id=brand_id, user_id=user_id))


@bp.post(MEMBER + "/remove")
def remove(brand_id: str, user_id: str) -> Response:
    check_csrf()
    return render(services().console.members.remove(browser(), brand_id=brand_id, user_id=user_id))


@bp.get(MEMBER + "/mfa")
def mfa_form(brand_id: str, user_id: str) -> Response:
    return render(services().console.members.mfa_form(browser(), brand_id=brand_id, user_id=user_id))


@bp.post(MEMBER + "/mfa/code")
def mfa_code(brand_id: str, user_id: str) -> Response:
    """Mail the admin a code of their own, when email codes are their second factor."""
    check_csrf()
    return render(services().console.members.send_mfa_code(browser(), brand_id=brand_id, user_id=user_id))


@bp.post(MEMBER + "/mfa")
def reset_mfa(brand_id: str, user_id: str) -> Response:
    check_csrf()
    return render(
        services().console.members.reset_mfa(
            browser(),
            brand_id=brand_id,
            user_id=user_id,
            code=request.form.get("code", ""),
            method=request.form.get("method") or None,
        )
    )


@bp.get("/admin/brands/<brand_id>/events")
def events(brand_id: str) -> Response:
    args = request.args
    chosen = EventFilter(
        user=args.get("user", ""),
        action=args.get("action", ""),
        since=args.get("since", ""),
        until=args.get("until", ""),
        page=args.get("page", ""),
    )
    return render(services().console.events.listing(browser(), brand_id=brand_id, chosen=chosen))
