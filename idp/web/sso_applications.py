"""/brands/:brand/sso_applications: the documented Rechat API for a brand's SSO applications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from idp.applications.service import ShownApp
from idp.errors import UnsupportedMediaType, ValidationError
from idp.presenters import app_json, brands_json
from idp.web import services
from idp.web.api import caller, envelope, int_arg, json_object

XML_TYPES = ("application/samlmetadata+xml", "application/xml", "text/xml")

bp = Blueprint("sso_applications", __name__, url_prefix="/brands/<brand>/sso_applications")


def _answer(shown: ShownApp, *, info: dict[str, Any] | None = None, brands: bool = False) -> Response:
    svc = services()
    expanded = brands_json(svc.apps.brand_lineages(shown.app)) if brands else None
    return envelope(app_json(shown, base_url=svc.settings.base_url, brands=expanded), info=info)


@bp.post("")
def create(brand: str) -> Response:
    return _answer(services().apps.create(caller(), brand, json_object()))


@bp.get("")
def list_(brand: str) -> Response:
    start, limit = int_arg("start", 0) or 0, int_arg("limit", None, minimum=1)
    page = services().apps.page(caller(), brand, start=start, limit=limit)
    base_url = services().settings.base_url
    data = [app_json(shown, base_url=base_url) for shown in page.items]
    return envelope(data, info={"count": len(data), "total": page.total})


@bp.put("/<app_id>")
def update(brand: str, app_id: str) -> Response:
    return _answer(services().apps.update(caller(), brand, app_id, json_object()))


@bp.put("")
def update_by_body_id(brand: str) -> Response:
    who, body = caller(), json_object()
    app_id = body.get("id")
    if not isinstance(app_id, str) or not app_id:
        raise ValidationError("id is required", field="id")
    return _answer(services().apps.update(who, brand, app_id, body))


@bp.delete("/<app_id>")
def delete(brand: str, app_id: str) -> Response:
    services().apps.delete(caller(), brand, app_id)
    return Response(status=204)


def _metadata_upload() -> tuple[bytes, str | None, str | None]:
    """SP metadata, as the raw XML body or as JSON {"metadata", "name", "entity_id"}: the XML, name and entityID."""
    if request.is_json:
        body = json_object()
        xml, name, entity_id = body.get("metadata"), body.get("name"), body.get("entity_id")
        if not isinstance(xml, str) or not xml.strip():
            raise ValidationError("metadata must be the SP's metadata XML", field="metadata")
        for field, value in (("name", name), ("entity_id", entity_id)):
            if value is not None and not isinstance(value, str):
                raise ValidationError(f"{field} must be a string", field=field)
        return xml.encode("utf-8", "replace"), name, entity_id
    if request.mimetype in XML_TYPES:
        return request.get_data(), request.args.get("name"), request.args.get("entity_id")
    raise UnsupportedMediaType('send the metadata as XML or as JSON {"metadata": ...}', field="metadata")


@bp.post("/import")
def import_(brand: str) -> Response:
    who = caller()
    xml, name, entity_id = _metadata_upload()
    imported = services().apps.import_metadata(who, brand, xml, name=name, entity_id=entity_id)
    assert imported.shown is not None  # an API caller is shown the app it imported
    return _answer(imported.shown, info={"created": imported.created})


@bp.put("/<app_id>/brands")
def set_brands(brand: str, app_id: str) -> Response:
    return _answer(services().apps.set_brands(caller(), brand, app_id, json_object().get("brands")), brands=True)


@bp.put("/<app_id>/icon")
def set_icon(brand: str, app_id: str) -> Response:
    who = caller()
    upload = next(iter(request.files.values()), None)
    if upload is None:
        raise ValidationError("send the image as a multipart/form-data file field", field="icon")
    return _answer(services().apps.set_icon(who, brand, app_id, upload.read()))
