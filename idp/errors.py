"""One exception hierarchy for the whole service; `idp.web.errors` maps it to HTTP."""

from __future__ import annotations


class IdpError(Exception):
    """Base of every error the service raises on purpose.

    `status` is the HTTP status the web layer answers with and `code` the
    machine-readable name in the JSON envelope.  `field` names the input at fault.
    """

    status = 500
    code = "InternalError"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigurationError(IdpError):
    code = "ConfigurationError"


class ValidationError(IdpError):
    status = 400
    code = "Validation"


class AuthenticationRequired(IdpError):
    status = 401
    code = "Unauthorized"


class Forbidden(IdpError):
    status = 403
    code = "Forbidden"


class NotFound(IdpError):
    status = 404
    code = "ResourceNotFound"


class Conflict(IdpError):
    status = 409
    code = "Conflict"


class MfaRequired(AuthenticationRequired):
    """The token pair is not MFA-validated, and the user has MFA."""

    code = "MFARequired"


class InvalidCode(IdpError):
    """A wrong, expired or reused one-time code."""

    status = 400
    code = "InvalidToken"


class SecondFactorRequired(IdpError):
    """A sensitive call came without a second factor (Rocket.Chat's totp-required)."""

    status = 403
    code = "TOTPRequired"
    error_type = "totp-required"

    def __init__(self, details: dict) -> None:
        super().__init__("TOTP Required")
        self.details = details


class SecondFactorInvalid(IdpError):
    """The second factor sent was wrong (Rocket.Chat's totp-invalid)."""

    status = 403
    code = "TOTPInvalid"
    error_type = "totp-invalid"

    def __init__(self, method: str) -> None:
        super().__init__("TOTP Invalid")
        self.details = {"method": method}


class Throttled(IdpError):
    status = 429
    code = "TooManyRequests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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


class InvalidRequest(OAuthError):
    code = "invalid_request"


class InvalidClient(OAuthError):
    status = 401
    code = "invalid_client"


class InvalidGrant(OAuthError):
    code = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"


class LaunchError(IdpError):
    """A launch that cannot go on; shown to a person as an HTML page."""

    status = 400
    code = "LaunchFailed"


class LinkInvalid(LaunchError):
    """Tampered, truncated, reused, or sealed with a key we do not hold."""

    code = "LinkInvalid"


class LinkExpired(LinkInvalid):
    code = "LinkExpired"


class SamlRequestRefused(LaunchError):
    """An SP's request that cannot be answered safely: malformed, unsigned, replayed, or for an unregistered ACS."""

    code = "RequestRefused"


class AccessRevoked(LaunchError):
    """The user or the application is no longer active or allowed."""

    status = 403
    code = "AccessRevoked"


class MailFailed(IdpError):
    """An email could not be handed to the mail server (or written to the outbox)."""

    status = 503
    code = "MailUnavailable"
