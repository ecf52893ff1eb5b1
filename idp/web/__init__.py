"""The web layer: an app factory and thin blueprints over the services."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.accounts.mail import mailer_for
from idp.accounts.second_factor import SecondFactor
from idp.accounts.throttle import Throttle
from idp.config import Settings
from idp.keyring import KeyRing
from idp.saml.xmlsig import Signer
from idp.store import Store, open_store


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    keyring: KeyRing
    signer: Signer
    throttle: Throttle
    second_factor: SecondFactor


def services() -> Services:
    return current_app.extensions["idp"]


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Flask:
    settings = settings or Settings.from_env()
    keyring = KeyRing.load(settings.keys_dir)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.icon_max_bytes + 64 * 1024
    app.json.sort_keys = False
    store = store or open_store(settings)
    throttle = Throttle(store)
    app.extensions["idp"] = Services(
        settings=settings,
        store=store,
        keyring=keyring,
        signer=Signer(keyring.signing_key_pem, keyring.certificate_pem),
        throttle=throttle,
        second_factor=SecondFactor(store, keyring, settings, throttle, mailer_for(settings)),
    )
    if settings.proxy_hops:
        # Behind that many reverse proxies, the client address comes from X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)

    from idp.web import errors, front, launch, oauth, saml_slo, saml_sso, sso_applications, users

    errors.init_app(app)
    for blueprint in (oauth.bp, users.bp, sso_applications.bp, launch.bp, front.bp, saml_sso.bp, saml_slo.bp):
        app.register_blueprint(blueprint)
    return app
