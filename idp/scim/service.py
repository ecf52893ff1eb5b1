"""The SCIM 2.0 endpoint as one call: a request in, a response out, with no web framework.

scim2-server's handler runs the protocol; we give it the token's scope (through `BrandDirectory`)
and turn our own errors into SCIM error bodies (`{"schemas": [...Error], "status", "scimType"?, "detail"}`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

from scim2_models import Error, InvalidValueException, SCIMException, UnauthorizedException
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.routing import Operation
from scim2_server.service import ScimService

from idp.errors import Conflict, IdpError, ValidationError
from idp.scim.directory import AccountLifecycle, BrandDirectory
from idp.scim.schema import provider
from idp.scim.tokens import ScimTokens
from idp.store import Store

log = logging.getLogger(__name__)

PREFIX = "/scim/v2"


@dataclass(frozen=True)
class ScimCall:
    """One HTTP request to the SCIM endpoint, as the web layer read it."""

    method: str
    path: str  # below /scim/v2, such as /Users/2819c223
    query: Mapping[str, str]
    headers: Iterable[tuple[str, str]]
    body: bytes


def _from_idp_error(error: IdpError) -> ScimResponse:
    """One of our errors (a store outage, a refusal from a shared rule) in the SCIM error shape."""
    scim_type = None
    if isinstance(error, ValidationError):
        scim_type = InvalidValueException.scim_type
    elif isinstance(error, Conflict) and error.field == "email":
        scim_type = "uniqueness"
    detail = error.message if error.status < 500 or error.status == 503 else "internal error"
    body = Error(status=error.status, scim_type=scim_type, detail=detail).model_dump()
    return ScimResponse(HTTPStatus(error.status), body, dict(error.headers()))


class Scim:
    """Built once at start; each request gets its own view through its token."""

    def __init__(self, store: Store, tokens: ScimTokens, lifecycle: AccountLifecycle, *, base_url: str) -> None:
        self.store = store
        self.tokens = tokens
        self.lifecycle = lifecycle
        self.base_url = base_url.rstrip("/") + PREFIX
        self.service = ScimService(provider())

    def answer(self, call: ScimCall) -> ScimResponse:
        request = ScimRequest(
            method=call.method,
            base_url=self.base_url,
            path=call.path.removesuffix(".scim") or "/",
            query=dict(call.query),
            headers=list(call.headers),
            body=call.body,
        )
        try:
            response = self._serve(request)
        except SCIMException as error:
            response = self.service.error_response(error)
        except IdpError as error:
            response = _from_idp_error(error)
        except Exception as error:  # a bug: logged with its trace, answered as a bare 500
            log.exception("SCIM %s %s failed", call.method, call.path, exc_info=error)
            response = self.service.error_response(error)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _serve(self, request: ScimRequest) -> ScimResponse:
        # RFC 7643 section 5: the service provider configuration is readable without credentials.
        if self.service.match(request).operation is Operation.service_provider_config:
            with self.service.provider:
                self.service.route(request, Operation.service_provider_config)
                return self.service.service_provider_config(request.url, request.query)
        scope = self.tokens.scope(request.header("Authorization"))
        if scope is None:
            raise UnauthorizedException(detail="a valid SCIM token is required (Authorization: Bearer scim_...)")
        return ScimHandler(self.service, BrandDirectory(self.store, scope, self.lifecycle)).handle(request)
