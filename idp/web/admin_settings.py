"""The console's Settings section of a brand (/admin/brands/:brand/settings): appearance and host names."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.console.settings import SettingsForm
from idp.web import services
from idp.web.csrf import check_csrf
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("admin_settings", __name__, url_prefix="/admin/brands/<brand_id>/settings"), back_link="/admin")


@bp.get("")
def show(brand_id: str) -> Response:
    return render(services().console.settings.show(browser(), brand_id=brand_id, notice=request.args.get("done")))


@bp.post("")
def save(brand_id: str) -> Response:
    check_csrf()
    form = SettingsForm(
        display_name=request.form.get("display_name", ""),
        hostnames=request.form.get("hostnames", ""),
        accent_color=request.form.get("accent_color", ""),
        accent_color_shown=request.form.get("accent_color_shown", ""),
        accent_picker=request.form.get("accent_picker", ""),
        accent_picker_shown=request.form.get("accent_picker_shown", ""),
    )
    return render(services().console.settings.save(browser(), brand_id=brand_id, form=form))


@bp.post("/logo")
def upload_logo(brand_id: str) -> Response:
    check_csrf()
    upload = request.files.get("logo")
    data = upload.read() if upload is not None else None
    return render(services().console.settings.upload_logo(browser(), brand_id=brand_id, data=data))


@bp.post("/logo/remove")
def remove_logo(brand_id: str) -> Response:
    check_csrf()
    return render(services().console.settings.remove_logo(browser(), brand_id=brand_id))
