"""Reading a service provider's SAML 2.0 metadata into plain values: entityID, endpoints, certificates."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from lxml import etree

from idp.errors import ValidationError
from idp.saml.names import ALG, BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, DS, MD, SAMLP
from idp.saml.xml import parse_untrusted

FIELD = "metadata"
# More ACS or SLO endpoints, certificates or NameID formats than this is not an SP anyone runs.
MAX_ITEMS = 50
MAX_ENTITY_ID = 1024  # SAML Core 2.0 section 8.3.6
MAX_URL = 2048

_ENTITY = f"{{{MD}}}EntityDescriptor"
_ENTITIES = f"{{{MD}}}EntitiesDescriptor"
_SP = f"{{{MD}}}SPSSODescriptor"
_ACS = f"{{{MD}}}AssertionConsumerService"
_SLO = f"{{{MD}}}SingleLogoutService"
_KEY = f"{{{MD}}}KeyDescriptor"
_NAMEID_FORMAT = f"{{{MD}}}NameIDFormat"
_EXTENSIONS = f"{{{MD}}}Extensions"
_SIGNING_METHOD = f"{{{ALG}}}SigningMethod"
_DIGEST_METHOD = f"{{{ALG}}}DigestMethod"
_ATTRIBUTE_SERVICE = f"{{{MD}}}AttributeConsumingService"
_REQUESTED_ATTRIBUTE = f"{{{MD}}}RequestedAttribute"
MAX_ATTRIBUTE_NAME = 256
_CERTIFICATES = f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"
_SLO_BINDINGS = (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_UNSIGNED_SHORT = re.compile(r"[0-9]{1,5}")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Endpoint:
    binding: str
    location: str
    response_location: str | None = None
    index: int | None = None
    is_default: bool = False


@dataclass(frozen=True)
class RequestedAttribute:
    """An attribute an AttributeConsumingService asks for (Metadata 2.4.4.2)."""

    name: str
    name_format: str | None = None
    friendly_name: str | None = None
    is_required: bool = False


@dataclass(frozen=True)
class SpMetadata:
    entity_id: str
    assertion_consumer_services: list[Endpoint]  # HTTP-POST ones only: isDefault first, then by index
    single_logout_services: list[Endpoint]  # HTTP-Redirect and HTTP-POST ones, in document order
    signing_certificates: list[str]  # base64 DER without whitespace; KeyDescriptor use="signing" or no use
    encryption_certificates: list[str]  # use="encryption" or no use
    authn_requests_signed: bool
    want_assertions_signed: bool
    name_id_formats: list[str]
    # The SP's alg:SigningMethod and alg:DigestMethod URIs, in its order of preference: those of the
    # SPSSODescriptor's Extensions, else of the EntityDescriptor's (Algorithm Support profile 2.3).
    signing_methods: list[str] = field(default_factory=list)
    digest_methods: list[str] = field(default_factory=list)
    attribute_consuming_services: list[int] = field(default_factory=list)  # their indexes
    requested_attributes: list[RequestedAttribute] = field(default_factory=list)  # of every service, once each


def _refuse(message: str) -> ValidationError:
    return ValidationError(f"metadata {message}", field=FIELD)


def _compact_text(element: etree._Element) -> str:
    """The element's text, its descendants' included, with all whitespace removed."""
    # lxml yields str from a parsed document's itertext(); lxml-stubs type it as str | bytes.
    return _WHITESPACE.sub("", "".join(cast("Iterator[str]", element.itertext())))


def parse_sp_metadata(xml: bytes, *, entity_id: str | None = None) -> SpMetadata:
    """The SAML 2.0 SP role of an EntityDescriptor, or of the one `entity_id` picks from an EntitiesDescriptor.

    Anything malformed, hostile or unusable is a ValidationError on the field "metadata".
    """
    root = parse_untrusted(xml, what="metadata", field=FIELD)
    entity = _entity(root, entity_id)
    found_id = _entity_id(entity)
    if entity_id is not None and found_id != entity_id.strip():
        raise _refuse(f"describes entityID {found_id!r}, not {entity_id!r}")
    role = _sp_role(entity)
    signing, encryption = _certificates(role)
    signing_methods, digest_methods = _algorithms(role) or _algorithms(entity) or ([], [])
    services, requested = _attribute_consuming_services(role)
    return SpMetadata(
        entity_id=found_id,
        assertion_consumer_services=_assertion_consumer_services(role),
        single_logout_services=_single_logout_services(role),
        signing_certificates=signing,
        encryption_certificates=encryption,
        authn_requests_signed=_boolean(role, "AuthnRequestsSigned"),
        want_assertions_signed=_boolean(role, "WantAssertionsSigned"),
        name_id_formats=_name_id_formats(role),
        signing_methods=signing_methods,
        digest_methods=digest_methods,
        attribute_consuming_services=services,
        requested_attributes=requested,
    )


def _entity(root: etree._Element, entity_id: str | None) -> etree._Element:
    if root.tag == _ENTITY:
        return root
    if root.tag != _ENTITIES:
        name = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise _refuse(f"must be an md:EntityDescriptor or md:EntitiesDescriptor, not {name!r}")
    entities = list(root.iter(_ENTITY))  # EntitiesDescriptor may nest
    if entity_id is not None:
        for entity in entities:
            if (entity.get("entityID") or "").strip() == entity_id.strip():
                return entity
        raise _refuse(f"has no EntityDescriptor with entityID {entity_id!r}")
    service_providers = [entity for entity in entities if entity.find(_SP) is not None]
    if not service_providers:
        raise _refuse("has no SPSSODescriptor: it does not describe a service provider")
    if len(service_providers) > 1:
        raise _refuse(f"describes {len(service_providers)} service providers; give the entity_id of the one to use")
    return service_providers[0]


def _entity_id(entity: etree._Element) -> str:
    value = (entity.get("entityID") or "").strip()
    if not value:
        raise _refuse("EntityDescriptor has no entityID")
    if len(value) > MAX_ENTITY_ID:
        raise _refuse(f"entityID is longer than {MAX_ENTITY_ID} characters")
    return value


def _sp_role(entity: etree._Element) -> etree._Element:
    roles = entity.findall(_SP)
    if not roles:
        raise _refuse("has no SPSSODescriptor: it does not describe a service provider")
    for role in roles:
        if SAMLP in (role.get("protocolSupportEnumeration") or "").split():
            return role
    raise _refuse(f"SPSSODescriptor does not list {SAMLP} in protocolSupportEnumeration")


def _boolean(element: etree._Element, attribute: str, *, what: str | None = None) -> bool:
    raw = element.get(attribute)
    if raw is None:
        return False
    value = _BOOLEANS.get(raw.strip())
    if value is None:
        raise _refuse(f"{what or etree.QName(element).localname} {attribute} must be true or false")
    return value


def _location(element: etree._Element, attribute: str, what: str) -> str | None:
    raw = element.get(attribute)
    if raw is None:
        return None
    url = raw.strip()
    problem = f"{what} {attribute} must be an absolute http(s) URL"
    if not url or len(url) > MAX_URL or any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise _refuse(problem)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise _refuse(problem) from None
    if parts.scheme not in ("http", "https") or not host:
        raise _refuse(problem)
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise _refuse(f"{what} {attribute} must not carry credentials or a fragment")
    return url


def _endpoint(element: etree._Element, what: str, *, index: int | None = None, is_default: bool = False) -> Endpoint:
    location = _location(element, "Location", what)
    if location is None:
        raise _refuse(f"{what} has no Location")
    return Endpoint(
        binding=(element.get("Binding") or "").strip(),
        location=location,
        response_location=_location(element, "ResponseLocation", what),
        index=index,
        is_default=is_default,
    )


def _index(element: etree._Element) -> int | None:
    raw = element.get("index")
    if raw is None:
        return None
    text = raw.strip()
    if not _UNSIGNED_SHORT.fullmatch(text) or int(text) > 65535:
        raise _refuse("AssertionConsumerService index must be a whole number from 0 to 65535")
    return int(text)


def _assertion_consumer_services(role: etree._Element) -> list[Endpoint]:
    elements = role.findall(_ACS)
    if len(elements) > MAX_ITEMS:
        raise _refuse(f"has more than {MAX_ITEMS} AssertionConsumerService endpoints")
    seen: set[int] = set()
    endpoints: list[Endpoint] = []
    for element in elements:
        index = _index(element)
        if index is not None:
            if index in seen:
                raise _refuse(f"has two AssertionConsumerService endpoints with index {index}")
            seen.add(index)
        if (element.get("Binding") or "").strip() != BINDING_HTTP_POST:
            continue  # SAML 1, Artifact, PAOS, POST-SimpleSign: not bindings this IdP answers on
        what = "AssertionConsumerService" if index is None else f"AssertionConsumerService index {index}"
        is_default = _boolean(element, "isDefault", what=what)
        endpoints.append(_endpoint(element, what, index=index, is_default=is_default))
    if not endpoints:
        raise _refuse(f"has no AssertionConsumerService with Binding {BINDING_HTTP_POST}")
    # Stable: endpoints without an index keep their document order after the indexed ones.
    return sorted(endpoints, key=lambda e: (not e.is_default, e.index is None, e.index or 0))


def _single_logout_services(role: etree._Element) -> list[Endpoint]:
    elements = role.findall(_SLO)
    if len(elements) > MAX_ITEMS:
        raise _refuse(f"has more than {MAX_ITEMS} SingleLogoutService endpoints")
    return [
        _endpoint(element, "SingleLogoutService")
        for element in elements
        if (element.get("Binding") or "").strip() in _SLO_BINDINGS
    ]


def _certificate(element: etree._Element, number: int) -> str:
    text = _compact_text(element)
    what = f"certificate {number}"
    if not text:
        raise _refuse(f"{what} is empty")
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(f"{what} is not base64 (an X509Certificate holds base64 DER, without PEM armour)") from None
    try:
        x509.load_der_x509_certificate(der).public_key()  # the key too: it is read lazily otherwise
    except ValueError:
        raise _refuse(f"{what} is not a valid X.509 certificate") from None
    except UnsupportedAlgorithm:
        raise _refuse(f"{what} holds a key of a type this IdP cannot read") from None
    return text


def _certificates(role: etree._Element) -> tuple[list[str], list[str]]:
    signing: dict[str, None] = {}
    encryption: dict[str, None] = {}
    number = 0
    for key in role.findall(_KEY):
        use = (key.get("use") or "").strip()
        if use not in ("", "signing", "encryption"):
            raise _refuse("KeyDescriptor use must be signing or encryption")
        for element in key.iterfind(_CERTIFICATES):
            number += 1
            if number > MAX_ITEMS:
                raise _refuse(f"has more than {MAX_ITEMS} certificates")
            certificate = _certificate(element, number)
            if use in ("", "signing"):
                signing[certificate] = None
            if use in ("", "encryption"):
                encryption[certificate] = None
    return list(signing), list(encryption)


def _name_id_formats(role: etree._Element) -> list[str]:
    elements = role.findall(_NAMEID_FORMAT)
    if len(elements) > MAX_ITEMS:
        raise _refuse(f"has more than {MAX_ITEMS} NameIDFormat elements")
    formats = (_compact_text(element) for element in elements)
    return list(dict.fromkeys(value for value in formats if value))


def _algorithms(element: etree._Element) -> tuple[list[str], list[str]] | None:
    """The alg:SigningMethod and alg:DigestMethod Algorithms of the element's md:Extensions; None if it lists none."""
    extensions = element.find(_EXTENSIONS)
    if extensions is None:
        return None
    found: list[list[str]] = []
    for tag in (_SIGNING_METHOD, _DIGEST_METHOD):
        elements = extensions.findall(tag)
        if len(elements) > MAX_ITEMS:
            raise _refuse(f"lists more than {MAX_ITEMS} {etree.QName(tag).localname} elements")
        uris = ((method.get("Algorithm") or "").strip() for method in elements)
        found.append(list(dict.fromkeys(uri for uri in uris if uri)))
    signing_methods, digest_methods = found
    return (signing_methods, digest_methods) if signing_methods or digest_methods else None


def _attribute_consuming_services(role: etree._Element) -> tuple[list[int], list[RequestedAttribute]]:
    services = role.findall(_ATTRIBUTE_SERVICE)
    if len(services) > MAX_ITEMS:
        raise _refuse(f"has more than {MAX_ITEMS} AttributeConsumingService elements")
    indexes: list[int] = []
    requested: dict[str, RequestedAttribute] = {}
    for service in services:
        raw = (service.get("index") or "").strip()
        if not _UNSIGNED_SHORT.fullmatch(raw) or int(raw) > 65535:
            raise _refuse("AttributeConsumingService index must be a whole number from 0 to 65535")
        if int(raw) in indexes:
            raise _refuse(f"has two AttributeConsumingService elements with index {raw}")
        indexes.append(int(raw))
        attributes = service.findall(_REQUESTED_ATTRIBUTE)
        if len(attributes) > MAX_ITEMS:
            raise _refuse(f"AttributeConsumingService {raw} requests more than {MAX_ITEMS} attributes")
        for attribute in attributes:
            name = (attribute.get("Name") or "").strip()
            if not name or len(name) > MAX_ATTRIBUTE_NAME or any(ord(char) < 32 for char in name):
                raise _refuse(f"AttributeConsumingService {raw} has a RequestedAttribute without a usable Name")
            friendly = (attribute.get("FriendlyName") or "").strip()
            requested.setdefault(
                name,
                RequestedAttribute(
                    name=name,
                    name_format=(attribute.get("NameFormat") or "").strip() or None,
                    friendly_name=friendly if friendly and len(friendly) <= MAX_ATTRIBUTE_NAME else None,
                    is_required=_boolean(attribute, "isRequired", what="RequestedAttribute"),
                ),
            )
    return sorted(indexes), list(requested.values())
