"""A real service provider for tests: python3-saml (OneLogin) in a small Flask app, served on loopback.

It starts logins (HTTP-Redirect AuthnRequests, signed when it has a key), consumes responses at
its ACS in strict mode with its InResponseTo checks on, decrypts encrypted assertions, and takes
part in single logout. Its home page says who is signed in.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, request, session
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from werkzeug.serving import make_server

from tests.support import free_port, http_ok, wait_until


@dataclass
class SpOptions:
    sign_requests: bool = False
    want_assertions_encrypted: bool = False
    want_assertions_signed: bool = True
    name_id_format: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    key_pem: str | None = None  # the SP's own key and certificate, for signing requests and decrypting
    cert_pem: str | None = None
    # What it signs its own messages with (python3-saml's defaults); RSA-SHA1 and SHA-1 can be asked for.
    signature_algorithm: str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    digest_algorithm: str = "http://www.w3.org/2001/04/xmlenc#sha256"
    errors: list[str] = field(default_factory=list)


def _sp(base_url: str, options: SpOptions) -> dict:
    sp = {
        "entityId": f"{base_url}/metadata",
        "assertionConsumerService": {
            "url": f"{base_url}/acs",
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
        },
        "singleLogoutService": {
            "url": f"{base_url}/sls",
            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
        },
        "NameIDFormat": options.name_id_format,
    }
    if options.key_pem and options.cert_pem:
        sp["privateKey"], sp["x509cert"] = options.key_pem, options.cert_pem
    return sp


def _settings(base_url: str, idp_metadata: bytes | None, options: SpOptions) -> dict:
    idp = OneLogin_Saml2_IdPMetadataParser.parse(idp_metadata) if idp_metadata is not None else {"idp": {}}
    return {
        "strict": True,
        "debug": False,
        "sp": _sp(base_url, options),
        "idp": idp["idp"],
        "security": {
            "authnRequestsSigned": options.sign_requests,
            "logoutRequestSigned": bool(options.key_pem),
            "logoutResponseSigned": bool(options.key_pem),
            "wantAssertionsSigned": options.want_assertions_signed,
            "wantAssertionsEncrypted": options.want_assertions_encrypted,
            "wantNameId": True,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": options.signature_algorithm,
            "digestAlgorithm": options.digest_algorithm,
        },
    }


def make_sp(base_url: str, idp_metadata: bytes, options: SpOptions) -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-sp-session-key"
    # Cookies are kept per host, not per port: two SPs on loopback must not share one session cookie.
    app.config["SESSION_COOKIE_NAME"] = f"sp-session-{urlsplit(base_url).port}"
    settings = _settings(base_url, idp_metadata, options)

    def auth() -> OneLogin_Saml2_Auth:
        parts = urlsplit(base_url)
        return OneLogin_Saml2_Auth(
            {
                "https": "off",
                "http_host": parts.netloc,
                "script_name": request.path,
                "get_data": request.args.copy(),
                "post_data": request.form.copy(),
                "query_string": request.query_string.decode(),
            },
            settings,
        )

    @app.get("/")
    def home():
        return jsonify(
            signed_in="name_id" in session,
            name_id=session.get("name_id"),
            name_id_format=session.get("name_id_format"),
            attributes=session.get("attributes", {}),
            authn_contexts=session.get("authn_contexts", []),
            errors=options.errors,
        )

    @app.get("/login")
    def login():
        saml = auth()
        url = saml.login(
            return_to=f"{base_url}/",
            force_authn=request.args.get("force") == "1",
            is_passive=request.args.get("passive") == "1",
        )
        session["request_id"] = saml.get_last_request_id()
        return redirect(url)

    @app.post("/acs")
    def acs():
        saml = auth()
        saml.process_response(request_id=session.pop("request_id", None))
        if saml.get_errors():
            options.errors.append(f"{saml.get_errors()}: {saml.get_last_error_reason()}")
            return jsonify(error=saml.get_last_error_reason(), errors=saml.get_errors()), 400
        session.update(
            name_id=saml.get_nameid(),
            name_id_format=saml.get_nameid_format(),
            session_index=saml.get_session_index(),
            attributes=saml.get_attributes(),
            authn_contexts=saml.get_last_authn_contexts(),
        )
        return redirect("/")

    @app.get("/logout")
    def logout():
        saml = auth()
        return redirect(
            saml.logout(
                return_to=f"{base_url}/",
                name_id=session.get("name_id"),
                session_index=session.get("session_index"),
                name_id_format=session.get("name_id_format"),
            )
        )

    @app.get("/sls")
    def sls():
        saml = auth()
        url = saml.process_slo(delete_session_cb=session.clear)
        if saml.get_errors():
            options.errors.append(f"{saml.get_errors()}: {saml.get_last_error_reason()}")
            return jsonify(error=saml.get_last_error_reason()), 400
        return redirect(url or "/")

    @app.get("/metadata")
    def metadata():
        from onelogin.saml2.settings import OneLogin_Saml2_Settings

        xml = OneLogin_Saml2_Settings(settings, sp_validation_only=True).get_sp_metadata()
        return app.response_class(xml, content_type="application/samlmetadata+xml")

    return app


def sp_metadata(base_url: str, options: SpOptions | None = None) -> bytes:
    """The metadata python3-saml writes for the SP at `base_url`, before it knows its IdP: what an
    SP's administrator hands the IdP to register it."""
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    settings = _settings(base_url, None, options or SpOptions())
    xml = OneLogin_Saml2_Settings(settings, sp_validation_only=True).get_sp_metadata()
    return xml if isinstance(xml, bytes) else xml.encode()


@contextlib.contextmanager
def running_sp(idp_metadata: bytes, options: SpOptions | None = None, *, port: int | None = None) -> Iterator[str]:
    """Serve the SP on a free loopback port; yields its base URL and always stops it."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, make_sp(base_url, idp_metadata, options or SpOptions()), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_until(http_ok(f"{base_url}/"), what="python3-saml SP")
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)
