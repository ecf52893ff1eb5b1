"""The console's Applications pages: a brand's SSO apps listed and searched, created and edited,
imported from SP metadata, given an icon and brands, test-launched and deleted.

Every change goes through idp.applications.service as the signed-in admin (`seat.caller`): the
console only turns a form's strings into the API's JSON shape and the API's refusals into messages
next to the field they name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from idp.applications.fields import (
    AUTHENTICATION_TYPES,
    NAME_ID_FORMAT_VALUES,
    SIGNED_VALUES,
)
from idp.applications.service import Applications, ShownApp
from idp.console.brands import brand_path
from idp.console.seat import Seat, Seats
from idp.errors import IdpError, NotFound, ValidationError
from idp.models import SsoApplication
from idp.presenters import icon_url
from idp.saml.algorithms import SIGNATURE_ALGORITHM_NAMES
from idp.saml.certificates import certificate_pem
from idp.saml.encryption import ALGORITHMS as ENCRYPTION_ALGORITHMS
from idp.saml.names import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from idp.signin.outcomes import Browser, Outcome, Redirect

# The fields of the form, in the API's names, by the kind of control that edits them.
TEXT_FIELDS = (
    "name",
    "url",
    "acs_url",
    "entity_id",
    "start_url",
    "name_id",
    "audience",
    "destination",
    "recipient",
    "issuer",
    "slo_url",
)
CHOICES: dict[str, tuple[str, ...]] = {
    "authentication_type": AUTHENTICATION_TYPES,
    "signed": SIGNED_VALUES,
    "name_id_format": NAME_ID_FORMAT_VALUES,
    "encryption_algorithm": tuple(ENCRYPTION_ALGORITHMS),
    "slo_binding": (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST),
    "signature_algorithm": tuple(SIGNATURE_ALGORITHM_NAMES),
}
JSON_FIELDS = ("mappings", "extra")
FLAGS = ("require_signed_requests", "allow_sha1_signatures", "require_mfa")
FORM_FIELDS = (
    *TEXT_FIELDS,
    *CHOICES,
    *JSON_FIELDS,
    *FLAGS,
    "order",
    "sp_certificates",
    "encryption_certificate",
    "affiliations",
    "attribute_consuming_services",
)
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL)

# What a redirect after a change says it did: fixed messages, never text from the query string.
DONE = {
    "created": "The application was created.",
    "imported": "The application was created from the SP's metadata.",
    "reimported": "The application with this entityID was updated from the SP's metadata.",
    "saved": "Your changes were saved.",
    "icon": "The icon was uploaded.",
    "brands": "The brands allowed were saved.",
    "deleted": "The application was deleted.",
}


@dataclass(frozen=True)
class Download:
    """A file for the browser to save, rather than a page."""

    filename: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class IdpFacts:
    """What an SP's administrator needs of this IdP: its public address and its signing certificate."""

    base_url: str
    entity_id: str
    certificate_pem: Callable[[], bytes]  # the key ring's, of the moment (keys roll over)


@dataclass(frozen=True)
class ListedApp:
    shown: ShownApp
    owned: bool  # owned by the brand in view (else allowed here by a parent brand that owns it)
    icon: str | None
    allowed_names: tuple[str, ...]  # the administered brands it is allowed for, by name
    allowed_elsewhere: int  # how many other brands it is allowed for


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


def apps_path(brand_id: str, app_id: str | None = None, action: str = "") -> str:
    path = brand_path(brand_id, "apps")
    if app_id is not None:
        path += f"/{app_id}"
    return path + (f"/{action}" if action else "")


def payload_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The API's JSON body for what the form sent: empty means null (the API's default), JSON fields
    parsed, lists split, boxes true when ticked; a value that cannot take the API's shape is refused
    naming its field."""
    payload: dict[str, Any] = {}
    for field in (*TEXT_FIELDS, *CHOICES):
        payload[field] = form.get(field, "").strip() or None
    for field in JSON_FIELDS:
        text = form.get(field, "").strip()
        try:
            payload[field] = json.loads(text) if text else None
        except ValueError as problem:
            raise ValidationError(f"{field} is not valid JSON: {problem}", field=field) from None
    for field in FLAGS:
        payload[field] = field in form
    order = form.get("order", "").strip()
    try:
        payload["order"] = int(order) if order else None
    except ValueError:
        raise ValidationError("order must be a whole number", field="order") from None
    certificates = form.get("sp_certificates", "")
    payload["sp_certificates"] = (
        _PEM_BLOCK.findall(certificates) if "-----BEGIN" in certificates else certificates.split()
    )
    payload["encryption_certificate"] = form.get("encryption_certificate", "").strip() or None
    payload["affiliations"] = form.get("affiliations", "").split()
    indexes = form.get("attribute_consuming_services", "").replace(",", " ").split()
    try:
        payload["attribute_consuming_services"] = [int(index) for index in indexes]
    except ValueError:
        refusal = "attribute_consuming_services must be whole numbers, separated by commas"
        raise ValidationError(refusal, field="attribute_consuming_services") from None
    # A field the form did not send keeps its value, as in the API; an unticked box is not sent, so means false.
    return {field: value for field, value in payload.items() if field in form or field in FLAGS}


def form_values(app: SsoApplication) -> dict[str, str]:
    """The stored app as the form's strings; whatever is stored, this never fails."""
    values: dict[str, str] = {}
    for field in (*TEXT_FIELDS, *CHOICES):
        value = getattr(app, field, None)
        values[field] = "" if value is None else str(value)
    for field in JSON_FIELDS:
        value = getattr(app, field, None)
        values[field] = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    for field in FLAGS:
        values[field] = "on" if getattr(app, field, False) else ""
    values["order"] = str(app.order)
    values["sp_certificates"] = "".join(_pem(certificate) for certificate in app.sp_certificates or [])
    values["encryption_certificate"] = _pem(app.encryption_certificate) if app.encryption_certificate else ""
    values["affiliations"] = "\n".join(map(str, app.affiliations or []))
    values["attribute_consuming_services"] = ", ".join(map(str, app.attribute_consuming_services or []))
    return values


def _pem(der_base64: object) -> str:
    return certificate_pem(str(der_base64)).decode("ascii", "replace")


def choices_for(values: Mapping[str, str]) -> dict[str, list[Choice]]:
    """The options of each select; a stored value that is no longer an option stays one, so the page shows it."""
    found: dict[str, list[Choice]] = {}
    for field, options in CHOICES.items():
        listed = [Choice(value, value) for value in options]
        current = values.get(field, "")
        if current and current not in options:
            listed.append(Choice(current, f"{current} (stored, no longer accepted)"))
        found[field] = listed
    return found


def field_errors(error: IdpError) -> dict[str, str]:
    """The refusal next to the field it names (`mappings.NAME` next to mappings); else at the top."""
    field = (error.field or "").split(".", 1)[0]
    return {field if field in (*FORM_FIELDS, "brands", "icon", "metadata") else "": error.message}


def matches(app: SsoApplication, query: str) -> bool:
    """The search: by name, SP entityID, issuer or ACS URL (any registered one), ignoring case."""
    needle = query.casefold()
    endpoints = [str(endpoint.get("url", "")) for endpoint in app.acs_endpoints or [] if isinstance(endpoint, dict)]
    haystack = (app.name, app.entity_id, app.issuer, app.acs_url, *endpoints)
    return any(needle in value.casefold() for value in haystack if value)


class ApplicationsConsole:
    def __init__(self, seats: Seats, apps: Applications, idp: IdpFacts) -> None:
        self.seats = seats
        self.apps = apps
        self.idp = idp

    # reading
    def listing(self, browser: Browser, *, brand_id: str, query: str = "", done: str = "") -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id))
        query = query.strip()[:200]
        shown = [item for item in self._shown(seat) if not query or matches(item.app, query)]
        return seat.page(
            "admin/apps.html",
            apps=[self._listed(seat, item) for item in shown],
            query=query,
            notice=DONE.get(done),
        )

    def app_page(self, browser: Browser, *, brand_id: str, app_id: str, done: str = "") -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id))
        return self._app_page(seat, self._owned(seat, app_id), notice=DONE.get(done))

    def certificate(self, browser: Browser, *, brand_id: str, app_id: str) -> Download:
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id))
        self._owned(seat, app_id)
        return Download("idp-signing-certificate.pem", "application/x-pem-file", self.idp.certificate_pem())

    # creating and changing
    def new_form(self, browser: Browser, *, brand_id: str) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, "new"))
        values = {"authentication_type": "SAML", "order": "0"}
        return self._form_page(seat, None, values, checked=[brand_id])

    def create(self, browser: Browser, *, brand_id: str, form: Mapping[str, str], brands: list[str]) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, "new"))
        try:
            payload = payload_from_form(form)
            payload["brands"] = self._allowed_brands(seat, brands, current=[])
            shown = self.apps.create(seat.caller, brand_id, payload)
        except ValidationError as error:
            return self._form_page(seat, None, form, checked=brands, error=error)
        return Outcome(Redirect(apps_path(brand_id, shown.app.id) + "?done=created", 303))

    def edit_form(self, browser: Browser, *, brand_id: str, app_id: str) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id, "edit"))
        app = self._owned(seat, app_id)
        return self._form_page(seat, app, form_values(app))

    def update(self, browser: Browser, *, brand_id: str, app_id: str, form: Mapping[str, str]) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id, "edit"))
        app = self._owned(seat, app_id)
        try:
            self.apps.update(seat.caller, brand_id, app.id, payload_from_form(form))
        except ValidationError as error:
            return self._form_page(seat, app, form, error=error)
        return Outcome(Redirect(apps_path(brand_id, app.id) + "?done=saved", 303))

    def import_form(self, browser: Browser, *, brand_id: str) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, "import"))
        return seat.page("admin/apps_import.html", values={}, errors={})

    def import_metadata(self, browser: Browser, *, brand_id: str, pasted: str, uploaded: bytes, name: str) -> Outcome:
        """The metadata from the file when one was chosen, else as pasted."""
        seat = self._seat(browser, brand_id, apps_path(brand_id, "import"))
        values = {"metadata": pasted, "name": name}
        xml = uploaded or pasted.strip().encode("utf-8", "replace")
        try:
            if not xml:
                raise ValidationError("paste the SP's metadata XML or choose its file", field="metadata")
            imported = self.apps.import_metadata(seat.caller, brand_id, xml, name=name.strip() or None)
        except ValidationError as error:
            return seat.page("admin/apps_import.html", error.status, values=values, errors=field_errors(error))
        done = "imported" if imported.created else "reimported"
        return Outcome(Redirect(apps_path(brand_id, imported.app.id) + f"?done={done}", 303))

    def set_icon(self, browser: Browser, *, brand_id: str, app_id: str, data: bytes) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id))
        app = self._owned(seat, app_id)
        try:
            if not data:
                raise ValidationError("choose a PNG, JPEG, GIF or WebP image to upload", field="icon")
            self.apps.set_icon(seat.caller, brand_id, app.id, data)
        except IdpError as error:
            if error.field != "icon":
                raise
            return self._app_page(seat, app, errors={"icon": error.message}, status=error.status)
        return Outcome(Redirect(apps_path(brand_id, app.id) + "?done=icon", 303))

    def set_brands(self, browser: Browser, *, brand_id: str, app_id: str, brands: list[str]) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id))
        app = self._owned(seat, app_id)
        try:
            allowed = self._allowed_brands(seat, brands, current=app.brands)
            self.apps.set_brands(seat.caller, brand_id, app.id, allowed)
        except ValidationError as error:
            return self._app_page(seat, app, errors={"brands": error.message}, status=error.status)
        return Outcome(Redirect(apps_path(brand_id, app.id) + "?done=brands", 303))

    def test_launch(self, browser: Browser, *, brand_id: str, app_id: str) -> Outcome:
        """A fresh launch link for the admin, followed at once: the app opens as they would open it."""
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id))
        shown = self._owned_shown(seat, app_id)
        app = shown.app
        if shown.open_url is None:
            problem = (
                f"You cannot open this application from {seat.brand.name if seat.brand else 'this brand'}: "
                "it is not allowed for this brand or a brand above it. Allow it for this brand under "
                "Brands allowed, then test it again."
            )
            return self._app_page(seat, app, errors={"launch": problem}, status=403)
        return Outcome(Redirect(shown.open_url, 303))

    def delete_form(self, browser: Browser, *, brand_id: str, app_id: str) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id, "delete"))
        return seat.page("admin/apps_delete.html", app=self._owned(seat, app_id))

    def delete(self, browser: Browser, *, brand_id: str, app_id: str) -> Outcome:
        seat = self._seat(browser, brand_id, apps_path(brand_id, app_id, "delete"))
        app = self._owned(seat, app_id)
        self.apps.delete(seat.caller, brand_id, app.id)
        return Outcome(Redirect(apps_path(brand_id) + "?done=deleted", 303))

    # the parts
    def _seat(self, browser: Browser, brand_id: str, path: str) -> Seat:
        seat = self.seats.take(browser, path=path, brand_id=brand_id)
        assert seat.brand is not None
        return seat

    def _shown(self, seat: Seat) -> list[ShownApp]:
        assert seat.brand is not None
        return self.apps.page(seat.caller, seat.brand.id).items

    def _owned(self, seat: Seat, app_id: str) -> SsoApplication:
        return self._owned_shown(seat, app_id).app

    def _owned_shown(self, seat: Seat, app_id: str) -> ShownApp:
        """An app the brand in view owns, as the API lists it to this admin; 404 for any other."""
        assert seat.brand is not None
        found = next((item for item in self._shown(seat) if item.app.id == app_id), None)
        if found is None or found.app.owner_brand_id != seat.brand.id:
            raise NotFound("There is no such application in this brand.", field="id")
        return found

    def _listed(self, seat: Seat, shown: ShownApp) -> ListedApp:
        assert seat.brand is not None
        names = {node.brand.id: node.brand.name for node in seat.tree}
        app = shown.app
        return ListedApp(
            shown=shown,
            owned=app.owner_brand_id == seat.brand.id,
            icon=icon_url("", app),
            allowed_names=tuple(names[b] for b in app.brands if b in names),
            allowed_elsewhere=sum(1 for b in app.brands if b not in names),
        )

    @staticmethod
    def _allowed_brands(seat: Seat, checked: list[str], *, current: list[str]) -> list[str]:
        """The boxes ticked among the administered brands, and the brands the admin cannot see kept as they are."""
        administered = [node.brand.id for node in seat.tree]
        return [b for b in administered if b in checked] + [b for b in current if b not in administered]

    def _form_page(
        self,
        seat: Seat,
        app: SsoApplication | None,
        values: Mapping[str, str],
        *,
        checked: list[str] | None = None,
        error: IdpError | None = None,
    ) -> Outcome:
        return seat.page(
            "admin/apps_form.html",
            error.status if error else 200,
            app=app,
            values=values,
            checked=checked or [],
            choices=choices_for(values),
            errors=field_errors(error) if error else {},
        )

    def _app_page(
        self,
        seat: Seat,
        app: SsoApplication,
        *,
        notice: str | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Outcome:
        base = self.idp.base_url
        endpoints = f"{base}/sso_applications/{app.id}"
        return seat.page(
            "admin/apps_show.html",
            status,
            app=app,
            listed=self._listed(seat, ShownApp(app, None)),
            notice=notice,
            errors=errors or {},
            idp={
                "entity_id": app.idp_entity_id(self.idp.entity_id),
                "metadata_url": f"{endpoints}/metadata",
                "shared_metadata_url": f"{base}/metadata",
                "shared_entity_id": self.idp.entity_id,
                "sso_url": f"{endpoints}/sso",
                "shared_sso_url": f"{base}/saml/sso",
                "slo_url": f"{endpoints}/slo",
                "certificate": self.idp.certificate_pem().decode("ascii", "replace"),
            },
        )
