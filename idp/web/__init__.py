"""The web layer: an app factory and thin blueprints over the services and the sign-in flows."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.accounts.services import Accounts
from idp.applications.brand_settings import BrandSettings
from idp.applications.links import LaunchLinks
from idp.applications.service import Applications
from idp.config import Settings
from idp.console import Console
from idp.errors import ValidationError
from idp.keyring import REPORT_TTL, FollowingSigner, KeyRing
from idp.saml.assertions import IdpIdentity
from idp.scim.service import Scim
from idp.scim.tokens import ScimTokens
from idp.signin import Flows
from idp.store import Store, open_store
from idp.store.observed import ObservedBackend
from idp.telemetry import audit, logs, metrics


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    keyring: KeyRing
    accounts: Accounts
    apps: Applications
    flows: Flows
    scim: Scim
    console: Console
    brand_settings: BrandSettings


def services() -> Services:
    found: Services = current_app.extensions["idp"]
    return found


def build_services(settings: Settings, store: Store, keyring: KeyRing) -> Services:
    """Every service and flow, built once for the life of the process."""
    accounts = Accounts.build(settings, store, keyring)
    links = LaunchLinks(settings, keyring)
    apps = Applications(store, settings, links, keyring=keyring)
    idp = IdpIdentity(
        entity_id=settings.entity_id,
        signer=FollowingSigner(keyring, on_signature=metrics.signature_made),
        pairwise_secret=keyring.pairwise_secret,
        assertion_ttl=settings.assertion_ttl,
    )
    flows = Flows.build(settings, store, accounts, apps, links, idp)
    scim = Scim(store, ScimTokens(store), accounts.lifecycle, base_url=settings.base_url)
    audit.keep_with(accounts.audit_log.keep)  # every audit event recorded from now on is kept in this store
    brand_settings = BrandSettings.of(store, settings)
    console = Console.build(store, accounts, apps, settings=settings, keyring=keyring, brand_settings=brand_settings)
    return Services(settings, store, keyring, accounts, apps, flows, scim, console, brand_settings)


def _observed(store: Store) -> Store:
    """The same store, each backend operation timed and its failures counted (idp_store_* metrics)."""
    return Store(ObservedBackend(store.backend, metrics.store_operation))


def _query_string_is_utf8() -> None:
    """Refuse a query string whose raw bytes are not UTF-8 (sent without percent-encoding), as any
    malformed request: werkzeug decodes `request.args` strictly, so a view would fail on it."""
    try:
        request.query_string.decode()
    except UnicodeDecodeError:
        raise ValidationError("the query string is not valid UTF-8", field="query") from None


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure(settings.log_format)
    store = _observed(store or open_store(settings))
    keyring = KeyRing.load(
        settings.keys_dir,
        check_every=settings.keys_check_interval,
        report=lambda report: store.save_key_report(report["worker"], report, REPORT_TTL),
    )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.icon_max_bytes + 64 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["idp"] = build_services(settings, store, keyring)

    def keys_of_the_moment() -> None:
        """Each request starts with the keys in the folder now (a stat every few seconds), the same throughout."""
        keyring.refresh()

    app.before_request(keys_of_the_moment)
    if settings.proxy_hops:
        # Behind that many reverse proxies, the client address comes from X-Forwarded-For.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )

    from idp.web import (
        account,
        admin,
        admin_apps,
        admin_people,
        admin_settings,
        brands,
        errors,
        front,
        instrumentation,
        launch,
        oauth,
        operations,
        passkeys,
        passwords,
        people,
        published,
        saml_slo,
        saml_sso,
        scim,
        sso_applications,
        users,
    )

    instrumentation.init_app(app)
    errors.init_app(app)
    app.before_request(_query_string_is_utf8)
    for blueprint in (
        oauth.bp,
        users.bp,
        sso_applications.bp,
        published.bp,
        launch.bp,
        front.bp,
        saml_sso.bp,
        saml_slo.bp,
        people.bp,
        passwords.bp,
        operations.bp,
        scim.bp,
        admin.bp,
        admin_apps.bp,
        admin_people.bp,
        account.bp,
        admin_settings.bp,
        brands.bp,
        passkeys.bp,
    ):
        app.register_blueprint(blueprint)
    return app
