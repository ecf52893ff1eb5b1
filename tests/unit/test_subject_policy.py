"""What an AuthnRequest may ask of the subject, and the signature algorithm an SP's metadata picks."""

from __future__ import annotations

import pytest

from idp.errors import InvalidNameIdPolicy, UnknownAlgorithm, UnknownAttributeConsumingService
from idp.models import SsoApplication
from idp.saml.algorithms import (
    RSA_SHA1,
    RSA_SHA256,
    RSA_SHA384,
    RSA_SHA512,
    SHA256,
    SHA512,
    signature_algorithm,
    signature_algorithm_for,
)
from idp.saml.names import NAMEID_EMAIL, NAMEID_PERSISTENT, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED
from idp.saml.subject_policy import SubjectRequest, SubjectTerms, subject_terms

SP = "https://sp.example.com/sp"
AFFILIATION = "https://affiliation.example.com"


def app(**fields) -> SsoApplication:
    values = {
        "id": "a1",
        "owner_brand_id": "b1",
        "name": "App",
        "authentication_type": "SAML",
        "created_at": 0.0,
        "updated_at": 0.0,
        "entity_id": SP,
    }
    return SsoApplication(**{**values, **fields})


@pytest.mark.parametrize(
    ("application", "request_", "terms"),
    [
        (app(), SubjectRequest(), SubjectTerms()),
        (app(), SubjectRequest(NAMEID_TRANSIENT), SubjectTerms(NAMEID_TRANSIENT)),
        (app(name_id_format=NAMEID_EMAIL), SubjectRequest(NAMEID_UNSPECIFIED), SubjectTerms()),
        (app(name_id_format="none"), SubjectRequest(NAMEID_UNSPECIFIED), SubjectTerms()),
        (app(), SubjectRequest(sp_name_qualifier=SP), SubjectTerms()),
        (
            app(affiliations=[AFFILIATION]),
            SubjectRequest(NAMEID_PERSISTENT, AFFILIATION),
            SubjectTerms(NAMEID_PERSISTENT, AFFILIATION),
        ),
        (app(attribute_consuming_services=[0, 2]), SubjectRequest(attribute_consuming_service_index=2), SubjectTerms()),
    ],
)
def test_what_the_app_can_give_is_granted(application, request_, terms):
    assert subject_terms(application, request_) == terms


@pytest.mark.parametrize(
    ("application", "request_", "refusal"),
    [
        (app(name_id_format=NAMEID_EMAIL), SubjectRequest(NAMEID_PERSISTENT), InvalidNameIdPolicy),
        (app(name_id_format="none"), SubjectRequest(NAMEID_EMAIL), InvalidNameIdPolicy),
        (app(), SubjectRequest("urn:example:unknown-format"), InvalidNameIdPolicy),
        (app(), SubjectRequest(sp_name_qualifier=AFFILIATION), InvalidNameIdPolicy),
        (
            app(affiliations=["https://other.example.com"]),
            SubjectRequest(sp_name_qualifier=AFFILIATION),
            InvalidNameIdPolicy,
        ),
        (app(), SubjectRequest(attribute_consuming_service_index=0), UnknownAttributeConsumingService),
    ],
)
def test_what_it_cannot_is_refused_with_its_saml_status(application, request_, refusal):
    with pytest.raises(refusal) as refused:
        subject_terms(application, request_)
    assert refused.value.saml_status == "urn:oasis:names:tc:SAML:2.0:status:Requester"
    expected_sub = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy" if refusal is InvalidNameIdPolicy else None
    assert refused.value.saml_sub_status == expected_sub


@pytest.mark.parametrize(
    ("signing", "digests", "chosen"),
    [
        ([RSA_SHA512, RSA_SHA256], [], "rsa-sha512"),
        ([RSA_SHA1, RSA_SHA384], [], "rsa-sha384"),
        ([RSA_SHA512, RSA_SHA256], [SHA256], "rsa-sha256"),
        ([RSA_SHA256, RSA_SHA512], [SHA512], "rsa-sha512"),
        ([RSA_SHA1], [], None),
        ([], [SHA512], None),
    ],
)
def test_the_first_signing_method_the_sp_lists_that_we_sign_with_is_chosen(signing, digests, chosen):
    assert signature_algorithm_for(signing, digests) == chosen


def test_an_unknown_signature_algorithm_is_a_clear_error():
    assert signature_algorithm(None).signing_method.uri == RSA_SHA256
    with pytest.raises(UnknownAlgorithm, match="rsa-sha256, rsa-sha384, rsa-sha512"):
        signature_algorithm("rsa-sha1")
