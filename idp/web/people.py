"""/brands/:brand/members and /users/:id: brand admins manage members and their accounts."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.accounts.audit_log import EventQuery, moment
from idp.presenters import member_json, user_json
from idp.web import services
from idp.web.api import bearer, envelope, int_arg, json_object, second_factor

bp = Blueprint("people", __name__)


@bp.get("/brands/<brand>/members")
def members(brand: str) -> Response:
    start, limit = int_arg("start", 0) or 0, int_arg("limit", None, minimum=1)
    page = services().accounts.people.members(
        bearer().user, brand, start=start, limit=limit, query=request.args.get("q") or None
    )
    data = [member_json(m.user, m.membership) for m in page.items]
    return envelope(data, info={"count": len(data), "total": page.total})


@bp.post("/brands/<brand>/members")
def add_member(brand: str) -> Response:
    added = services().accounts.people.add_member(bearer().user, brand, json_object())
    member = added.member
    return envelope(
        member_json(member.user, member.membership), info={"created": added.created, "invited": added.invited}
    )


@bp.put("/brands/<brand>/members/<user_id>")
def set_role(brand: str, user_id: str) -> Response:
    member = services().accounts.people.set_role(bearer().user, brand, user_id, json_object().get("role"))
    return envelope(member_json(member.user, member.membership))


@bp.delete("/brands/<brand>/members/<user_id>")
def remove_member(brand: str, user_id: str) -> Response:
    services().accounts.people.remove_member(bearer().user, brand, user_id)
    return Response(status=204)


@bp.get("/users/<user_id>")
def show_user(user_id: str) -> Response:
    return envelope(user_json(services().accounts.people.show(bearer().user, user_id)))


@bp.put("/users/<user_id>")
def update_user(user_id: str) -> Response:
    return envelope(user_json(services().accounts.people.update(bearer().user, user_id, json_object())))


@bp.post("/users/<user_id>/disable")
def disable_user(user_id: str) -> Response:
    return envelope(user_json(services().accounts.people.disable(bearer().user, user_id)))


@bp.post("/users/<user_id>/enable")
def enable_user(user_id: str) -> Response:
    return envelope(user_json(services().accounts.people.enable(bearer().user, user_id)))


@bp.delete("/users/<user_id>")
def delete_user(user_id: str) -> Response:
    services().accounts.people.delete(bearer().user, user_id)
    return Response(status=204)


@bp.post("/users/<user_id>/mfa/reset")
def reset_mfa(user_id: str) -> Response:
    """A sensitive call: the admin's own second factor comes first (x-2fa-code, x-2fa-method)."""
    caller = bearer()
    second_factor(caller)
    return envelope(user_json(services().accounts.people.reset_mfa(caller.user, user_id)))


@bp.post("/users/<user_id>/password-reset")
def password_reset(user_id: str) -> Response:
    services().accounts.people.send_password_reset(bearer().user, user_id)
    return Response(status=204)


MAX_EVENTS = 1000


@bp.get("/brands/<brand>/events")
def events(brand: str) -> Response:
    """The brand's audit events, newest first, for its admins (and those of a parent brand)."""
    args = request.args
    query = EventQuery(
        since=moment("since", args.get("since")),
        until=moment("until", args.get("until")),
        action=args.get("action") or None,
        user_id=args.get("user_id") or None,
        start=int_arg("start", 0) or 0,
        limit=min(int_arg("limit", 100, minimum=1) or 100, MAX_EVENTS),
    )
    page = services().accounts.people.events(bearer().user, brand, query)
    data = [event.as_json() for event in page.items]
    return envelope(data, info={"count": len(data), "total": page.total})
