"""The admin console's brand pages (/admin): the tree, the switcher and a brand's overview."""

from __future__ import annotations

from flask import Blueprint, Response, request

from idp.web import services
from idp.web.errors import as_pages
from idp.web.pages import browser, render

bp = as_pages(Blueprint("admin", __name__), back_link="/admin")


@bp.get("/admin")
def brands() -> Response:
    return render(services().console.brands.tree(browser()))


@bp.get("/admin/switch")
def switch() -> Response:
    return render(services().console.brands.switch(browser(), brand_id=request.args.get("brand", "")))


@bp.get("/admin/brands/<brand_id>")
def brand(brand_id: str) -> Response:
    return render(services().console.brands.overview(browser(), brand_id=brand_id))
