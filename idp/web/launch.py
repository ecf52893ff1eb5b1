"""GET /sso_applications/open?hash=...: a launch link, answered by the auto-posted Response or the app's link."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.web import services
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("launch", __name__))


@bp.get("/sso_applications/open")
def open_app() -> Response:
    return render(services().flows.launch.open(request.args.get("hash"), browser()))


@bp.get("/sso_applications/open/resume")
def resume() -> Response:
    """Back from the TOTP step: the launch goes on."""
    return render(services().flows.launch.resume(request.args.get("launch"), browser()))
