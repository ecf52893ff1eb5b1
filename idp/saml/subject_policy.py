"""What an AuthnRequest asks of the subject (NameIDPolicy Format and SPNameQualifier, Core 3.4.1.1)
and of the attributes (AttributeConsumingServiceIndex), checked against the app it is for."""

from __future__ import annotations

from dataclasses import dataclass

from idp.errors import InvalidNameIdPolicy, UnknownAttributeConsumingService
from idp.models import SsoApplication
from idp.saml.names import NAMEID_FORMATS, NAMEID_UNSPECIFIED


@dataclass(frozen=True)
class SubjectRequest:
    """The parts of an AuthnRequest that shape the subject; None where the request says nothing."""

    name_id_format: str | None = None
    sp_name_qualifier: str | None = None
    attribute_consuming_service_index: int | None = None


@dataclass(frozen=True)
class SubjectTerms:
    """How the answer's subject is made: a format to use instead of the app's, and the affiliation
    whose namespace a persistent NameID is made in (None: the SP's own)."""

    name_id_format: str | None = None
    affiliation: str | None = None


def subject_terms(app: SsoApplication, request: SubjectRequest) -> SubjectTerms:
    """The terms the request may have, or the refusal it is answered with in SAML.

    A requested format is used when the app has no `name_id_format` or the same one (unspecified
    leaves the app's own); an SPNameQualifier other than the SP's entityID is honoured only for an
    affiliation the app lists in `affiliations`; otherwise Requester/InvalidNameIDPolicy.  An
    AttributeConsumingServiceIndex not in the app's metadata is answered Requester.
    """
    index = request.attribute_consuming_service_index
    if index is not None and index not in app.attribute_consuming_services:
        raise UnknownAttributeConsumingService(
            f"the request names AttributeConsumingServiceIndex {index}, which the application does not list"
        )
    name_id_format = None
    requested = request.name_id_format
    if requested and requested != NAMEID_UNSPECIFIED:
        if requested not in NAMEID_FORMATS or (app.name_id_format and app.name_id_format != requested):
            raise InvalidNameIdPolicy(f"the application does not give NameIDs of format {requested}")
        name_id_format = requested
    affiliation = None
    qualifier = request.sp_name_qualifier
    if qualifier and qualifier != app.entity_id:
        if qualifier not in app.affiliations:
            raise InvalidNameIdPolicy(f"the application is not a member of the affiliation {qualifier}")
        affiliation = qualifier
    return SubjectTerms(name_id_format, affiliation)
