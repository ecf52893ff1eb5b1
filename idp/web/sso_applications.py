"""/brands/:brand/sso_applications: the documented Rechat API for a brand's SSO applications."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.applications import service
from idp.applications.access import standing
from idp.applications.importing import import_metadata
from idp.errors import UnsupportedMediaType, ValidationError
from idp.models import SsoApplication
from idp.web import services
from idp.web.api import bearer, envelope, int_arg, json_object
from idp.web.presenters import app_json, brand_json

XML_TYPES = ("application/samlmetadata+xml", "application/xml", "text/xml")

bp = Blueprint("sso_applications", __name__, url_prefix="/brands/<brand>/sso_applications")


def _answer(app: SsoApplication, brand: str, *, info: dict | None = None, **kwargs) -> Response:
    svc, caller = services(), bearer()
    launchable = standing(svc.store, caller.user.id, brand).may_open(app)
    return envelope(
        app_json(
            svc,
            app,
            user=caller.user,
            brand_id=brand,
            launchable=launchable,
            mfa=caller.grant.mfa_validated,
            **kwargs,
        ),
        info=info,
    )


@bp.post("")
def create(brand: str):
    svc = services()
    return _answer(service.create_app(svc.store, svc.settings, bearer().user, brand, json_object()), brand)


@bp.get("")
def list_(brand: str):
    svc, caller = services(), bearer()
    start, limit = int_arg("start", 0), int_arg("limit", None, minimum=1)
    page = service.list_apps(svc.store, caller.user, brand, start=start, limit=limit)
    mfa = caller.grant.mfa_validated
    data = [
        app_json(svc, item.app, user=caller.user, brand_id=brand, launchable=item.launchable, mfa=mfa)
        for item in page.items
    ]
    return envelope(data, info={"count": len(data), "total": page.total})


@bp.put("/<app_id>")
def update(brand: str, app_id: str):
    svc = services()
    return _answer(service.update_app(svc.store, svc.settings, bearer().user, brand, app_id, json_object()), brand)


@bp.put("")
def update_by_body_id(brand: str):
    actor = bearer().user
    body = json_object()
    app_id = body.get("id")
    if not isinstance(app_id, str) or not app_id:
        raise ValidationError("id is required", field="id")
    svc = services()
    return _answer(service.update_app(svc.store, svc.settings, actor, brand, app_id, body), brand)


@bp.delete("/<app_id>")
def delete(brand: str, app_id: str):
    service.delete_app(services().store, bearer().user, brand, app_id)
    return Response(status=204)


@bp.post("/import")
def import_(brand: str):
    """SP metadata, as the raw XML body or as JSON {"metadata", "name", "entity_id"}."""
    actor = bearer().user
    if request.is_json:
        body = json_object()
        xml, name, entity_id = body.get("metadata"), body.get("name"), body.get("entity_id")
        if not isinstance(xml, str) or not xml.strip():
            raise ValidationError("metadata must be the SP's metadata XML", field="metadata")
        xml = xml.encode()
    elif request.mimetype in XML_TYPES:
        xml, name, entity_id = request.get_data(), request.args.get("name"), request.args.get("entity_id")
    else:
        raise UnsupportedMediaType('send the metadata as XML or as JSON {"metadata": ...}', field="metadata")
    svc = services()
    imported = import_metadata(svc.store, svc.settings, brand, xml, actor=actor, name=name, entity_id=entity_id)
    return _answer(imported.app, brand, info={"created": imported.created})


@bp.put("/<app_id>/brands")
def set_brands(brand: str, app_id: str):
    store = services().store
    app = service.set_app_brands(store, bearer().user, brand, app_id, json_object().get("brands"))
    expanded = []
    for brand_id in app.brands:
        lineage = store.brand_lineage(brand_id)
        if lineage:
            expanded.append(brand_json(lineage[0], lineage))
    return _answer(app, brand, brands=expanded)


@bp.put("/<app_id>/icon")
def set_icon(brand: str, app_id: str):
    actor = bearer().user
    upload = next(iter(request.files.values()), None)
    if upload is None:
        raise ValidationError("send the image as a multipart/form-data file field", field="icon")
    svc = services()
    app = service.set_app_icon(svc.store, svc.settings, actor, brand, app_id, upload.read())
    return _answer(app, brand)
