"""SAML messages as a request carries them: HTTP-Redirect for GET, HTTP-POST otherwise."""

from __future__ import annotations

from flask import request

from idp.saml import inbound
from idp.saml.bindings import ReceivedMessage
from idp.web import services


def received(kind: inbound.Kind) -> ReceivedMessage:
    if request.method == "GET":
        return inbound.read(kind, query=request.query_string.decode("ascii", "replace"))
    return inbound.read(kind, form=request.form.to_dict())


def arrived_at() -> str:
    """The URL the message was sent to, as its Destination must name it."""
    return services().settings.base_url + request.path
