"""The admin console's Applications section (/admin/brands/<brand>/apps): list and search, create,
edit, import from SP metadata, icon, brands allowed, the IdP's details, test launch and delete."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.console.applications import ApplicationsConsole
from idp.web import services
from idp.web.csrf import check_csrf
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("admin_apps", __name__, url_prefix="/admin/brands/<brand_id>/apps"), back_link="/admin")


def _console() -> ApplicationsConsole:
    return services().console.applications


def _upload(name: str) -> bytes:
    upload = request.files.get(name)
    return upload.read() if upload is not None else b""


@bp.get("")
def listing(brand_id: str) -> Response:
    return render(
        _console().listing(
            browser(), brand_id=brand_id, query=request.args.get("q", ""), done=request.args.get("done", "")
        )
    )


@bp.get("/new")
def new_form(brand_id: str) -> Response:
    return render(_console().new_form(browser(), brand_id=brand_id))


@bp.post("/new")
def create(brand_id: str) -> Response:
    check_csrf()
    return render(
        _console().create(
            browser(), brand_id=brand_id, form=request.form.to_dict(), brands=request.form.getlist("brands")
        )
    )


@bp.get("/import")
def import_form(brand_id: str) -> Response:
    return render(_console().import_form(browser(), brand_id=brand_id))


@bp.post("/import")
def import_metadata(brand_id: str) -> Response:
    check_csrf()
    return render(
        _console().import_metadata(
            browser(),
            brand_id=brand_id,
            pasted=request.form.get("metadata", ""),
            uploaded=_upload("metadata_file"),
            name=request.form.get("name", ""),
        )
    )


@bp.get("/<app_id>")
def app_page(brand_id: str, app_id: str) -> Response:
    return render(_console().app_page(browser(), brand_id=brand_id, app_id=app_id, done=request.args.get("done", "")))


@bp.get("/<app_id>/idp-certificate.pem")
def certificate(brand_id: str, app_id: str) -> Response:
    download = _console().certificate(browser(), brand_id=brand_id, app_id=app_id)
    response = Response(download.body, content_type=download.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<app_id>/edit")
def edit_form(brand_id: str, app_id: str) -> Response:
    return render(_console().edit_form(browser(), brand_id=brand_id, app_id=app_id))


@bp.post("/<app_id>/edit")
def update(brand_id: str, app_id: str) -> Response:
    check_csrf()
    return render(_console().update(browser(), brand_id=brand_id, app_id=app_id, form=request.form.to_dict()))


@bp.post("/<app_id>/icon")
def set_icon(brand_id: str, app_id: str) -> Response:
    check_csrf()
    return render(_console().set_icon(browser(), brand_id=brand_id, app_id=app_id, data=_upload("icon")))


@bp.post("/<app_id>/brands")
def set_brands(brand_id: str, app_id: str) -> Response:
    check_csrf()
    return render(
        _console().set_brands(browser(), brand_id=brand_id, app_id=app_id, brands=request.form.getlist("brands"))
    )


@bp.post("/<app_id>/launch")
def test_launch(brand_id: str, app_id: str) -> Response:
    check_csrf()
    return render(_console().test_launch(browser(), brand_id=brand_id, app_id=app_id))


@bp.get("/<app_id>/delete")
def delete_form(brand_id: str, app_id: str) -> Response:
    return render(_console().delete_form(browser(), brand_id=brand_id, app_id=app_id))


@bp.post("/<app_id>/delete")
def delete(brand_id: str, app_id: str) -> Response:
    check_csrf()
    return render(_console().delete(browser(), brand_id=brand_id, app_id=app_id))
