"""/users/self: the caller's own account, its MFA and its second factor."""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify

from idp.presenters import user_json
from idp.web import services
from idp.web.api import bearer, client_address, envelope, json_object, second_factor, string_field

bp = Blueprint("users", __name__)


@bp.get("/users/self")
def self_user() -> Response:
    return envelope(user_json(bearer(before_mfa=True).user))


@bp.post("/users/self/mfa/setup")
def mfa_setup() -> Response:
    setup = services().accounts.mfa.begin_setup(bearer().user)
    return envelope({**user_json(setup.user), "mfa_url": setup.url, "mfa_qr_code": setup.qr_code})


@bp.post("/users/self/mfa/verify")
def mfa_verify() -> Response:
    caller = bearer()
    enabled = services().accounts.mfa.verify_setup(
        caller.user, caller.grant, string_field("token"), address=client_address(), now=time.time()
    )
    return envelope({**user_json(enabled.user), "mfa_recovery_codes": enabled.recovery_codes})


@bp.get("/users/self/mfa/recovery-codes")
def recovery_codes_left() -> Response:
    """How many recovery codes the caller has left (never the codes: they are shown once)."""
    user = bearer().user
    left = services().accounts.mfa.recovery.remaining(user.id) if user.mfa_enabled else 0
    return envelope({"mfa_recovery_codes_remaining": left})


@bp.post("/users/self/mfa/recovery-codes")
def new_recovery_codes() -> Response:
    """A sensitive call: ten new recovery codes replace the old ones."""
    caller = bearer()
    second_factor(caller)
    codes = services().accounts.mfa.new_recovery_codes(caller.user)
    return envelope({**user_json(caller.user), "mfa_recovery_codes": codes})


@bp.post("/users/self/mfa/validate")
def mfa_validate() -> Response:
    caller = bearer(before_mfa=True)
    services().accounts.mfa.validate(
        caller.user, caller.grant, string_field("token"), address=client_address(), now=time.time()
    )
    return Response(status=204)


@bp.delete("/users/self/mfa")
def mfa_remove() -> Response:
    services().accounts.mfa.remove(bearer().user, string_field("token"), address=client_address(), now=time.time())
    return Response(status=204)


@bp.put("/users/self/password")
def change_password() -> Response:
    caller, body = bearer(), json_object()
    second_factor(caller)
    services().accounts.passwords.change(
        caller.user,
        old_password=body.get("old_password"),
        new_password=body.get("new_password"),
        keep_pair_id=caller.grant.pair_id,
        address=client_address(),
        now=time.time(),
    )
    return Response(status=204)


@bp.post("/users/self/2fa/email/enable")
def enable_email_2fa() -> Response:
    return envelope(user_json(services().accounts.second_factor.enable_email(bearer().user, now=time.time())))


@bp.post("/users/self/2fa/email/disable")
def disable_email_2fa() -> Response:
    caller = bearer()
    second_factor(caller)
    return envelope(user_json(services().accounts.second_factor.disable_email(caller.user, now=time.time())))


@bp.post("/users/2fa/send-email-code")
def send_email_code() -> Response:
    """Callable without a token; answers the same whether or not the account exists."""
    services().accounts.second_factor.send_code_to(json_object().get("emailOrUsername"), now=time.time())
    return jsonify({"success": True, "code": "OK"})
