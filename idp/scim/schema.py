"""What the SCIM endpoint serves, as scim2-models describe it: our User and Group schemas, our
extensions, the resource types and the capabilities announced in /ServiceProviderConfig.

The core schemas are narrowed to the attributes a brand member has, so /Schemas tells a client
exactly what is kept: a client (or scim2-tester) that sends `nickName` or `addresses` is told so
by a 400, instead of seeing them silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    ETag,
    Extension,
    External,
    Filter,
    GroupMembership,
    Mutability,
    Patch,
    Reference,
    Required,
    Resource,
    ResourceType,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models.resources.resource import AnyExtension

# Ours, in the form RFC 7643 section 3.3 gives for extensions.
USER_EXTENSION = "urn:ietf:params:scim:schemas:extension:idp:2.0:User"
GROUP_EXTENSION = "urn:ietf:params:scim:schemas:extension:idp:2.0:Group"
MAX_RESULTS = 200  # the most a page holds (`count` is bounded to it); announced as filter.maxResults


class PersonName(ComplexAttribute):
    family_name: str | None = None
    given_name: str | None = None


class EmailAddress(ComplexAttribute):
    value: str | None = None
    type: str | None = Field(None, examples=["work"])
    primary: bool | None = None


class Phone(ComplexAttribute):
    value: str | None = None
    type: str | None = Field(None, examples=["work", "mobile"])
    primary: bool | None = None


class User(Resource[AnyExtension]):
    """A person: `userName` is their email address, the one they sign in with."""

    __schema__ = URN("urn:ietf:params:scim:schemas:core:2.0:User")

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    name: PersonName | None = None
    display_name: Annotated[str | None, Mutability.read_only] = None
    active: bool | None = None
    emails: list[EmailAddress] | None = None
    phone_numbers: list[Phone] | None = None
    groups: Annotated[list[GroupMembership] | None, Mutability.read_only] = None


class CustomAttribute(ComplexAttribute):
    """One custom attribute: a name and a string; a list-valued attribute is one entry per value."""

    name: Annotated[str | None, Required.true, CaseExact.true] = Field(
        None, examples=["mlsid", "nar_number", "license_number", "office_mlsid"]
    )
    """Letters, digits, _ and -, starting with a letter or _; at most 64 characters."""

    value: Annotated[str | None, Required.true] = None


class UserProfile(Extension):
    """Our extension of the User: the custom attributes that SSO applications may receive."""

    __schema__ = URN(USER_EXTENSION)

    attributes: list[CustomAttribute] | None = None


class Member(ComplexAttribute):
    """A user in a brand; groups do not nest, since brands have their own hierarchy."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    ref: Annotated[Reference[User] | None, Mutability.immutable] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    type: Annotated[str | None, Mutability.immutable] = Field(None, examples=["User"])
    display: Annotated[str | None, Mutability.read_only] = None


class Group(Resource[AnyExtension]):
    """A brand: the token's root brand or one below it."""

    __schema__ = URN("urn:ietf:params:scim:schemas:core:2.0:Group")

    display_name: Annotated[str | None, Required.true] = None
    members: list[Member] | None = None


class BrandDetails(Extension):
    """Our extension of the Group: which members are the brand's admins, and what kind of brand it is."""

    __schema__ = URN(GROUP_EXTENSION)

    admins: list[Member] | None = None
    """Members with the Admin role; every other member is an Agent. Listing a user here makes them a member."""

    brand_type: str | None = Field(None, examples=["Office", "Team"])
    """Brokerage, Office or Team; a group created through SCIM is an Office unless it says otherwise."""


ScimUser = User[UserProfile]
ScimGroup = Group[BrandDetails]


def _resource_type(name: str, endpoint: str, resource: type[Resource[Any]], extension: str) -> ResourceType:
    return ResourceType.model_validate(
        {
            "id": name,
            "name": name,
            "description": f"{name}s of the token's brands",
            "endpoint": endpoint,
            "schema": str(resource.__schema__),
            "schemaExtensions": [{"schema": extension, "required": False}],
        }
    )


def provider() -> ScimProvider:
    """The description of the service, built once at start."""
    config = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="SCIM token",
                description="A bearer token made by `idp scim-tokens create --brand BRAND_ID`",
                spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc6750"),
                primary=True,
            )
        ],
    )
    return ScimProvider(
        models=[User, Group, UserProfile, BrandDetails],
        resource_types=[
            _resource_type("User", "/Users", User, USER_EXTENSION),
            _resource_type("Group", "/Groups", Group, GROUP_EXTENSION),
        ],
        config=config,
    )
