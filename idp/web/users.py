"""/users/self: the caller's own account."""

from __future__ import annotations

from flask import Blueprint

from idp.web.api import bearer, envelope
from idp.web.presenters import user_json

bp = Blueprint("users", __name__)


@bp.get("/users/self")
def self_user():
    return envelope(user_json(bearer().user))
