"""/users/self: the caller's own account, its MFA and its second factor."""

from __future__ import annotations

import dataclasses
import logging
import time

from flask import Blueprint, Response, jsonify

from idp.accounts import mfa, passwords
from idp.accounts.second_factor import available_methods
from idp.errors import MailFailed, ValidationError
from idp.web import services
from idp.web.api import bearer, client_address, envelope, json_object, second_factor
from idp.web.presenters import user_json

bp = Blueprint("users", __name__)
log = logging.getLogger(__name__)


def _token_field() -> str | None:
    token = json_object().get("token")
    return token if isinstance(token, str) else None


@bp.get("/users/self")
def self_user():
    return envelope(user_json(bearer(before_mfa=True).user))


@bp.post("/users/self/mfa/setup")
def mfa_setup():
    svc = services()
    setup = mfa.begin_setup(svc.store, svc.keyring, bearer().user, issuer=svc.settings.issuer_name)
    return envelope({**user_json(setup.user), "mfa_url": setup.url, "mfa_qr_code": setup.qr_code})


@bp.post("/users/self/mfa/verify")
def mfa_verify():
    svc, caller = services(), bearer()
    enabled = mfa.verify_setup(
        svc.store,
        svc.keyring,
        svc.throttle,
        caller.user,
        caller.grant,
        _token_field(),
        address=client_address(),
        now=time.time(),
    )
    return envelope(user_json(enabled))


@bp.post("/users/self/mfa/validate")
def mfa_validate():
    svc, caller = services(), bearer(before_mfa=True)
    mfa.validate(
        svc.store,
        svc.keyring,
        svc.throttle,
        caller.user,
        caller.grant,
        _token_field(),
        address=client_address(),
        now=time.time(),
    )
    return Response(status=204)


@bp.delete("/users/self/mfa")
def mfa_remove():
    svc, caller = services(), bearer()
    mfa.remove(
        svc.store, svc.keyring, svc.throttle, caller.user, _token_field(), address=client_address(), now=time.time()
    )
    return Response(status=204)


@bp.put("/users/self/password")
def change_password():
    svc, caller = services(), bearer()
    body = json_object()
    second_factor(caller.user)
    passwords.change_password(
        svc.store,
        svc.throttle,
        caller.user,
        old_password=body.get("old_password"),
        new_password=body.get("new_password"),
        keep_pair_id=caller.grant.pair_id,
        address=client_address(),
        now=time.time(),
    )
    return Response(status=204)


@bp.post("/users/self/2fa/email/enable")
def enable_email_2fa():
    svc, caller = services(), bearer()
    if not caller.user.email_confirmed:
        raise ValidationError("confirm your email address before using it as a second factor", field="email")
    enabled = dataclasses.replace(caller.user, email_2fa_enabled=True, updated_at=time.time())
    svc.store.save_user(enabled)
    return envelope(user_json(enabled))


@bp.post("/users/self/2fa/email/disable")
def disable_email_2fa():
    svc, caller = services(), bearer()
    second_factor(caller.user)
    disabled = dataclasses.replace(caller.user, email_2fa_enabled=False, updated_at=time.time())
    svc.store.save_user(disabled)
    return envelope(user_json(disabled))


@bp.post("/users/2fa/send-email-code")
def send_email_code():
    """Callable without a token; answers the same whether or not the account exists."""
    svc = services()
    who = json_object().get("emailOrUsername")
    if not isinstance(who, str) or not who.strip():
        raise ValidationError("emailOrUsername is required", field="emailOrUsername")
    user = svc.store.user_by_email(who.strip())
    if user is not None and user.is_active and "email" in available_methods(user):
        try:
            svc.second_factor.send_email_code(user, now=time.time())
        except MailFailed as error:
            # Answering 503 here would tell a stranger the account exists; the log tells the operator.
            log.warning("could not mail a second-factor code: %s", error.message)
    return jsonify({"success": True, "code": "OK"})
