"""/brands/:brand: a brand in Rechat's shape, and its settings and logo as its admins change them."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.applications.brand_settings import appearance_from_api
from idp.errors import ValidationError
from idp.models import Brand
from idp.presenters import brand_json
from idp.web import services
from idp.web.api import bearer, envelope, json_object

bp = Blueprint("brands", __name__)


def _answer(brand: Brand) -> Response:
    found = services()
    return envelope(brand_json(brand, found.store.brand_lineage(brand.id), base_url=found.settings.base_url))


@bp.get("/brands/<brand>")
def show(brand: str) -> Response:
    return _answer(services().brand_settings.brand(bearer().user, brand))


@bp.put("/brands/<brand>")
def update(brand: str) -> Response:
    who = bearer().user
    return _answer(services().brand_settings.update(who, brand, appearance_from_api(json_object())))


@bp.put("/brands/<brand>/logo")
def set_logo(brand: str) -> Response:
    who = bearer().user
    upload = next(iter(request.files.values()), None)
    if upload is None:
        raise ValidationError("send the image as a multipart/form-data file field", field="logo")
    return _answer(services().brand_settings.set_logo(who, brand, upload.read()))


@bp.delete("/brands/<brand>/logo")
def drop_logo(brand: str) -> Response:
    services().brand_settings.drop_logo(bearer().user, brand)
    return Response(status=204)
