"""Brands that register the same service provider (one entityID, as AWS gives all its customers):
the global SSO endpoint answers each user with an application of their own brands, and one brand's
registration never changes what another brand's users get.

The AuthnRequests are python3-saml's, sent to /saml/sso over HTTP-Redirect.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from idp.keyring import make_signing_pair
from tests.api.helpers import NS, parse_page, saml_app, saml_response
from tests.e2e.sp_helpers import redirect_query
from tests.hostile.front import SAME_ORIGIN, sign_in

ENTITY_ID = "https://signin.aws.example/saml"
ACS_URL = "https://signin.aws.example/saml/acs"
IDP_SSO_URL = "http://127.0.0.1:5000/saml/sso"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


def sp_settings(acs_url: str) -> OneLogin_Saml2_Settings:
    """python3-saml as the shared SP, pointed at our global SSO and SLO endpoints."""
    return OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {"entityId": ENTITY_ID, "assertionConsumerService": {"url": acs_url, "binding": BINDING_POST}},
            "idp": {
                "entityId": "http://127.0.0.1:5000/metadata",
                "singleSignOnService": {"url": IDP_SSO_URL, "binding": BINDING_REDIRECT},
                "singleLogoutService": {"url": "http://127.0.0.1:5000/saml/slo", "binding": BINDING_REDIRECT},
                "x509cert": "",
            },
        },
        sp_validation_only=True,
    )


def authn_request_path(acs_url: str = ACS_URL) -> str:
    """The /saml/sso?SAMLRequest=... python3-saml's Auth.login() sends the browser to."""
    settings = sp_settings(acs_url)
    request = {"https": "on", "http_host": "signin.aws.example", "script_name": "/", "get_data": {}}
    url = OneLogin_Saml2_Auth(request, settings).login(return_to="https://signin.aws.example/console")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def brands(make, apps):
    """Two brands, each with its own admin and agent, each registering the same SP."""
    made = {}
    for name in ("North Realty", "South Realty"):
        brand = make.brand(name)
        admin, agent = make.user(brand=brand, role="Admin"), make.user(brand=brand, role="Agent")
        # Each registration names its own Audience, so an answer shows which one made it (at /saml/sso
        # every answer carries the Issuer of /metadata).
        audience = f"https://signin.aws.example/{name.split()[0].lower()}"
        fields = saml_app(name=f"AWS for {name}", entity_id=ENTITY_ID, acs_url=ACS_URL, audience=audience)
        app = apps.created(admin, brand, fields)
        made[name] = (brand, admin, agent, app)
    return made


def answered_by(response) -> str:
    """The Audience of the answer: which registration of the SP made it."""
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    form = parse_page(response.get_data(as_text=True)).forms[0]
    assert form.action == ACS_URL
    answer = saml_response(form.hidden["SAMLResponse"])
    assert answer.find("saml:Issuer", NS).text == "http://127.0.0.1:5000/metadata"
    return answer.find("saml:Assertion/saml:Conditions/saml:AudienceRestriction/saml:Audience", NS).text


def sso_as(client, user, path: str | None = None):
    """An SP-initiated sign-in from scratch: the request, the sign-in, the answer."""
    first = client.get(path or authn_request_path())
    assert first.status_code == 303 and first.headers["Location"].startswith("/login?request=")
    request_key = first.headers["Location"].split("request=", 1)[1]
    resumed = sign_in(client, user, request_key=request_key)
    assert resumed.status_code == 303
    return client.get(resumed.headers["Location"])


@pytest.mark.parametrize("name", ["North Realty", "South Realty"])
def test_each_brands_users_are_answered_with_their_own_brands_app(app, brands, name) -> None:
    _, _, agent, sso_app = brands[name]
    assert answered_by(sso_as(app.test_client(), agent)) == sso_app["audience"]


def test_a_user_of_both_brands_chooses_and_gets_the_app_chosen(app, make, brands) -> None:
    north, south = brands["North Realty"], brands["South Realty"]
    both = make.user(brand=north[0], role="Agent")
    make.member(both, south[0])
    client = app.test_client()
    page = sso_as(client, both)
    assert page.status_code == 200
    forms = parse_page(page.get_data(as_text=True)).forms
    assert {form.hidden["app"] for form in forms} == {north[3]["id"], south[3]["id"]}
    chosen = next(form for form in forms if form.hidden["app"] == south[3]["id"])
    answer = client.post(chosen.action, data=chosen.hidden, headers=SAME_ORIGIN)
    assert answered_by(answer) == south[3]["audience"]
    # The kept request is answered once: choosing again is refused, on a page (200, Bindings 3.4.6).
    again = client.post(chosen.action, data=chosen.hidden, headers=SAME_ORIGIN)
    assert again.status_code == 200 and "SAMLResponse" not in again.get_data(as_text=True)


def test_choosing_an_app_the_request_is_not_for_is_refused(app, make, brands, apps) -> None:
    north, south = brands["North Realty"], brands["South Realty"]
    both = make.user(brand=north[0], role="Agent")
    make.member(both, south[0])
    other = apps.created(north[1], north[0], saml_app(name="Another SP"))
    client = app.test_client()
    [form, *_] = parse_page(sso_as(client, both).get_data(as_text=True)).forms
    refused = client.post(form.action, data={**form.hidden, "app": other["id"]}, headers=SAME_ORIGIN)
    assert refused.status_code == 200 and "SAMLResponse" not in refused.get_data(as_text=True)


def test_another_brands_rogue_acs_never_reaches_this_brands_users(app, apps, make, brands) -> None:
    north = brands["North Realty"]
    rogue_brand = make.brand("Rogue Realty")
    rogue_admin = make.user(brand=rogue_brand, role="Admin")
    apps.created(
        rogue_admin, rogue_brand, saml_app(entity_id=ENTITY_ID, acs_url="https://evil.example/acs", name="Rogue")
    )
    client = app.test_client()
    # The SP's own request is still answered for North's agent, at North's ACS...
    assert answered_by(sso_as(client, north[2])) == north[3]["audience"]
    # ...and a request naming the rogue ACS gets North's agent nothing: that ACS is not North's.
    client = app.test_client()
    refused = sso_as(client, north[2], authn_request_path("https://evil.example/acs"))
    assert refused.status_code == 200 and parse_page(refused.get_data(as_text=True)).forms == []
    assert "evil.example" not in refused.get_data(as_text=True)


def test_another_brands_signing_policy_does_not_apply_to_this_brands_app(app, apps, make, brands, store) -> None:
    north = brands["North Realty"]
    strict_brand = make.brand("Strict Realty")
    strict_admin = make.user(brand=strict_brand, role="Admin")
    apps.created(
        strict_admin,
        strict_brand,
        saml_app(entity_id=ENTITY_ID, acs_url=ACS_URL, name="Strict", require_signed_requests=True),
    )
    assert answered_by(sso_as(app.test_client(), north[2])) == north[3]["audience"]


def logout_request_path(name_id: etree._Element, session_index: str, key_pem: bytes) -> str:
    """An HTTP-Redirect LogoutRequest from the shared SP, as python3-saml builds it, signed with its key."""
    from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request

    settings = sp_settings(ACS_URL)
    request = OneLogin_Saml2_Logout_Request(
        settings, name_id=name_id.text, session_index=session_index, name_id_format=name_id.get("Format")
    )
    return f"/saml/slo?{redirect_query(request.get_xml().encode(), key_pem=key_pem)}"


def test_a_logout_request_goes_to_the_registration_whose_login_it_ends(app, apps, brands) -> None:
    key, cert = make_signing_pair(2048, "aws sp")
    for name, (brand, admin, _, sso_app) in brands.items():
        slug = name.split()[0].lower()
        fields = {"slo_url": f"https://signin.aws.example/slo/{slug}", "sp_certificates": [cert.decode()]}
        updated = apps.update(admin, brand, sso_app["id"], fields)
        assert updated.status_code == 200, updated.json
    client = app.test_client()
    south_agent = brands["South Realty"][2]
    answer = sso_as(client, south_agent)
    assertion = saml_response(parse_page(answer.get_data(as_text=True)).forms[0].hidden["SAMLResponse"])
    name_id = assertion.find(".//saml:NameID", NS)
    session_index = assertion.find(".//saml:AuthnStatement", NS).get("SessionIndex")
    logged_out = client.get(logout_request_path(name_id, session_index, key))
    assert logged_out.status_code == 200
    form = parse_page(logged_out.get_data(as_text=True)).forms[0]
    assert form.action == "https://signin.aws.example/slo/south" and "SAMLResponse" in form.hidden
    # The IdP session is over: the launcher asks for a sign-in again.
    assert client.get("/").headers["Location"] == "/login"
