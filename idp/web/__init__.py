"""The web layer: an app factory and thin blueprints over the services."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

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


def services() -> Services:
    return current_app.extensions["idp"]


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Flask:
    settings = settings or Settings.from_env()
    keyring = KeyRing.load(settings.keys_dir)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.icon_max_bytes + 64 * 1024
    app.json.sort_keys = False
    app.extensions["idp"] = Services(
        settings=settings,
        store=store or open_store(settings),
        keyring=keyring,
        signer=Signer(keyring.signing_key_pem, keyring.certificate_pem),
    )

    from idp.web import errors, launch, oauth, sso_applications, users

    errors.init_app(app)
    for blueprint in (oauth.bp, users.bp, sso_applications.bp, launch.bp):
        app.register_blueprint(blueprint)
    return app
