"""One exception hierarchy for the whole service; every error knows how it is answered.

Each error carries its HTTP status, its JSON body and its headers, as authlib's errors do, and
the title and text of the page a person sees.  The web layer only chooses between JSON and a
page, by how each blueprint registers; it never looks at which error it holds.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode


class IdpError(Exception):
    """Base of every error the service raises on purpose.

    `status` is the HTTP status answered, `code` the machine-readable name in the JSON body and
    `field` the input at fault.  `title` heads the page a person sees.
    """

    status = 500
    code = "InternalError"
    title = "Please try again"
    page_status: int | None = None  # the status of its page, when not `status`

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        """The JSON body: `{"http", "message", "code", "field"?}`."""
        body: dict[str, Any] = {"http": self.status, "message": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body

    def headers(self) -> dict[str, str]:
        return {}

    def page_text(self) -> str:
        """What the page a person sees says."""
        return self.message


class InternalError(IdpError):
    """Something failed that no caller can mend; the details go to the log, never to the caller."""

    title = "Something went wrong"

    def __init__(self) -> None:
        super().__init__("internal error")

    def page_text(self) -> str:
        return "Something went wrong on our side. Please try again."


class HttpError(IdpError):
    """A plain HTTP refusal from the framework: no such route, method not allowed, body too large."""

    def __init__(self, status: int, name: str, description: str | None) -> None:
        super().__init__(description or name)
        self.status = status
        self.code = name.replace(" ", "")
        self.title = name


class ConfigurationError(IdpError):
    code = "ConfigurationError"


class UnknownAlgorithm(ConfigurationError, ValueError):
    """An algorithm this IdP does not offer was asked for (field validation keeps stored apps from it)."""


class ValidationError(IdpError):
    status = 400
    code = "Validation"


class AuthenticationRequired(IdpError):
    """No valid access token: RFC 6750 asks for a WWW-Authenticate challenge."""

    status = 401
    code = "Unauthorized"

    def __init__(self, message: str, *, token_presented: bool = False) -> None:
        super().__init__(message)
        self.token_presented = token_presented

    def headers(self) -> dict[str, str]:
        challenge = 'Bearer realm="idp"' + (', error="invalid_token"' if self.token_presented else "")
        return {"WWW-Authenticate": challenge}


class SignInRequired(IdpError):
    """A page for people signed in, reached without a session: the browser signs in, then comes back."""

    status = 303
    code = "SignInRequired"
    title = "Please sign in"

    def __init__(self, path: str) -> None:
        super().__init__("sign in to see this page")
        self.path = path

    def headers(self) -> dict[str, str]:
        return {"Location": "/login?" + urlencode({"next": self.path})}


class Forbidden(IdpError):
    status = 403
    code = "Forbidden"


class NotFound(IdpError):
    status = 404
    code = "ResourceNotFound"


class Conflict(IdpError):
    status = 409
    code = "Conflict"


class SigningKeyMissing(IdpError):
    """An app asks for a signature with a key the IdP does not hold (ECDSA-SHA256 without an EC key):
    nothing is signed and the person is told why, never a crash."""

    status = 409
    code = "SigningKeyMissing"
    title = "This application cannot be signed in to right now"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="signature_algorithm")


class MfaRequired(IdpError):
    """The token pair is not MFA-validated, and the user has MFA."""

    status = 401
    code = "MFARequired"


class InvalidCode(IdpError):
    """A wrong, expired or reused one-time code."""

    status = 400
    code = "InvalidToken"


class SealBroken(InvalidCode):
    """A sealed value (idp.sealing) not sealed by a key we hold, for this context, or altered since.

    Where it guards a code (a TOTP secret whose data key was removed) it is answered as a code
    that cannot be checked, never as a crash; a launch link turns it into LinkInvalid.
    """


class _RocketChatError(IdpError):
    """Rocket.Chat's body for its second factor, so its clients work unchanged, plus our own `code`."""

    status = 403
    error_type = ""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details

    def body(self) -> dict[str, Any]:
        return {
            "success": False,
            "error": f"{self.message} [{self.error_type}]",
            "errorType": self.error_type,
            "details": self.details,
            "code": self.code,
        }


class SecondFactorRequired(_RocketChatError):
    """A sensitive call came without a second factor (Rocket.Chat's totp-required)."""

    code = "TOTPRequired"
    error_type = "totp-required"

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__("TOTP Required", details)


class SecondFactorInvalid(_RocketChatError):
    """The second factor sent was wrong (Rocket.Chat's totp-invalid)."""

    code = "TOTPInvalid"
    error_type = "totp-invalid"

    def __init__(self, method: str) -> None:
        super().__init__("TOTP Invalid", {"method": method})


class Throttled(IdpError):
    status = 429
    code = "TooManyRequests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class PayloadTooLarge(IdpError):
    status = 413
    code = "PayloadTooLarge"


class UnsupportedMediaType(IdpError):
    status = 415
    code = "UnsupportedMediaType"


class OAuthError(IdpError):
    """An RFC 6749 section 5.2 error from the token endpoint."""

    status = 400
    code = "invalid_request"

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.message}

    def headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-store"}


class InvalidRequest(OAuthError):
    code = "invalid_request"


class InvalidClient(OAuthError):
    """Section 5.2: a client that tried HTTP Basic gets a Basic challenge with its 401."""

    status = 401
    code = "invalid_client"

    def __init__(self, message: str, *, used_basic: bool = False) -> None:
        super().__init__(message)
        self.used_basic = used_basic

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        if self.used_basic:
            headers["WWW-Authenticate"] = 'Basic realm="idp"'
        return headers


class InvalidGrant(OAuthError):
    code = "invalid_grant"
    # Whose credentials were wrong, when such an account exists: for the audit log, never the answer.
    account_id: str | None = None


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"


class LaunchError(IdpError):
    """A launch that cannot go on; shown to a person as an HTML page."""

    status = 400
    code = "LaunchFailed"
    title = "Cannot open this application"


class LinkInvalid(LaunchError):
    """Tampered, truncated, reused, or sealed with a key we do not hold."""

    code = "LinkInvalid"
    title = "Link invalid or expired"

    def page_text(self) -> str:
        # Say no more than this: which check failed is of use only to an attacker.
        return "This link is invalid or has expired."


class LinkExpired(LinkInvalid):
    code = "LinkExpired"


class SamlRequestRefused(LaunchError):
    """An SP's message that cannot be answered safely: malformed, unsigned, badly signed, from an
    unknown sender, or for an unregistered ACS.

    Its page answers 200: SAML failures are never signalled with HTTP error statuses (Bindings
    3.4.6, 3.5.6). JSON answers keep the 400.
    """

    code = "RequestRefused"
    page_status = 200


class SenderUnauthenticated(SamlRequestRefused):
    """An SP's message whose sender could not be authenticated: no signature where one is required, or
    no registered key to check one by. Unlike a bad signature, nothing says it is forged."""


class AnsweredInSaml(SamlRequestRefused):
    """A trusted AuthnRequest the IdP cannot meet: answered with a signed Response carrying this
    status (SAML Core 3.2.2.2) at the request's ACS, not with a page of ours."""

    saml_status = "urn:oasis:names:tc:SAML:2.0:status:Requester"
    saml_sub_status: str | None = None


class InvalidNameIdPolicy(AnsweredInSaml):
    """The NameIDPolicy asks for a format or an SPNameQualifier this app does not give."""

    code = "InvalidNameIDPolicy"
    saml_sub_status = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"


class UnknownAttributeConsumingService(AnsweredInSaml):
    """The AttributeConsumingServiceIndex names a service the app's metadata did not list."""

    code = "UnknownAttributeConsumingService"


class AccessRevoked(LaunchError):
    """The user or the application is no longer active or allowed."""

    status = 403
    code = "AccessRevoked"


class MfaSetupNeeded(AccessRevoked):
    """The app requires MFA (`require_mfa`) and the user has not set it up."""

    code = "MFASetupRequired"
    title = "This application needs multi-factor authentication"

    def __init__(self, app_name: str) -> None:
        super().__init__(f"{app_name} requires multi-factor authentication")
        self.app_name = app_name

    def page_text(self) -> str:
        return (
            f"{self.app_name} requires multi-factor authentication, and your account does not have it yet. "
            "Set up an authenticator app in your account's security settings (multi-factor authentication), "
            "then open the application again."
        )


class StoreUnavailable(IdpError):
    """The store did not answer in time, or refused to: the request may be repeated in a moment.

    Raised by a backend for its own outages (a frozen or restarting Redis, a locked or failing
    SQLite file), so a request gets a prompt 503 instead of holding its worker.
    """

    status = 503
    code = "StoreUnavailable"
    title = "Briefly unavailable"

    def __init__(self, message: str = "the store is unavailable; try again shortly", *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}

    def page_text(self) -> str:
        return "The service is briefly unavailable. Please try again in a moment."


class MailFailed(IdpError):
    """An email could not be handed to the mail server (or written to the outbox)."""

    status = 503
    code = "MailUnavailable"
