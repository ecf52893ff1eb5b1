"""The SAML endpoints over HTTP, fed hostile input: /saml/sso, /sso_applications/:id/sso and /saml/slo
never answer 5xx, whatever the query string or form, and whatever was done to a real message first.

Two SPs are registered, so that messages get past the app lookup to the checks after it: one that
does not sign, with an SLO endpoint, and one that must sign its requests.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from idp.keyring import make_signing_pair
from tests.api.helpers import page_text, saml_app
from tests.hostile.saml_inputs import (
    BASE_URL,
    BINDING_HTTP_REDIRECT,
    HOSTILE_TEXT,
    RSA_SHA256,
    authn_request,
    der_base64,
    forms,
    logout_request,
    logout_response,
    mutated,
    odd_certificates,
    post_value,
    query_strings,
    redirect_value,
    signed,
    utf8,
)

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
SIGNING_SP = "https://signed.example.com/saml/metadata"
SIGNING_SP_ACS = "https://signed.example.com/saml/acs"
SP_KEYS = make_signing_pair(2048, "signing sp")


@pytest.fixture
def sps(apps, org) -> dict[str, str]:
    """The two registered SPs' app ids, by name."""
    plain = apps.created(
        org.admin,
        org.brand,
        saml_app(slo_url="https://sp.example.com/saml/sls", slo_binding=BINDING_HTTP_REDIRECT),
    )
    signing = apps.created(
        org.admin,
        org.brand,
        saml_app(
            entity_id=SIGNING_SP,
            acs_url=SIGNING_SP_ACS,
            sp_certificates=[der_base64(SP_KEYS[1])],
            require_signed_requests=True,
        ),
    )
    return {"plain": plain["id"], "signing": signing["id"]}


def endpoints(sps: dict[str, str]) -> list[str]:
    return ["/saml/sso", f"/sso_applications/{sps['plain']}/sso", f"/sso_applications/{sps['signing']}/sso"]


def assert_no_5xx(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400 and response.mimetype == "text/html":
        assert page_text(response.get_data(as_text=True)), "a refusal page says what went wrong"


def get(client, path: str, query: str):
    """GET with the query string's bytes exactly as given, not URL-encoded first (a lone surrogate
    goes as the invalid UTF-8 that encodes it)."""
    return client.get(path, environ_overrides={"QUERY_STRING": utf8(query).decode("latin-1")})


def post(client, path: str, form: dict[str, str]):
    """POST the form URL-encoded, its text as UTF-8 (a lone surrogate as the invalid bytes that encode it)."""
    body = "&".join(f"{quote(utf8(key), safe='')}={quote(utf8(value), safe='')}" for key, value in form.items())
    return client.post(path, data=body, content_type="application/x-www-form-urlencoded")


@SETTINGS
@given(endpoint=st.integers(0, 3), query=query_strings())
@example(endpoint=3, query="SAMLResponse=x&RelayState=\ud800")  # bytes that are not UTF-8, sent as they are
def test_any_query_string_answers_without_a_5xx(client, sps, endpoint, query) -> None:
    assert_no_5xx(get(client, [*endpoints(sps), "/saml/slo"][endpoint], query))


@SETTINGS
@given(endpoint=st.integers(0, 3), form=forms())
def test_any_form_answers_without_a_5xx(client, sps, endpoint, form) -> None:
    assert_no_5xx(post(client, [*endpoints(sps), "/saml/slo"][endpoint], form))


@SETTINGS
@given(app_id=HOSTILE_TEXT, query=query_strings())
def test_any_app_id_answers_without_a_5xx(client, app_id, query) -> None:
    assert_no_5xx(get(client, f"/sso_applications/{quote(utf8(app_id), safe='')}/sso", query))


def send(client, path: str, param: str, xml: bytes, binding: str, relay_state: str | None = None):
    """The message over HTTP-Redirect (GET) or HTTP-POST."""
    if binding == "redirect":
        query = f"{param}={redirect_value(xml)}"
        if relay_state is not None:
            query += f"&RelayState={quote(utf8(relay_state), safe='')}"
        return get(client, path, query)
    return post(
        client, path, {param: post_value(xml), **({"RelayState": relay_state} if relay_state is not None else {})}
    )


@pytest.fixture
def real_messages(sps):
    """Real python3-saml messages the endpoints accept as they are, by the endpoint they go to."""
    signing_sso = f"/sso_applications/{sps['signing']}/sso"
    return [
        ("/saml/sso", "SAMLRequest", authn_request()),
        (
            f"/sso_applications/{sps['plain']}/sso",
            "SAMLRequest",
            authn_request(sso_url=f"{BASE_URL}/sso_applications/{sps['plain']}/sso"),
        ),
        (
            signing_sso,
            "SAMLRequest",
            signed(
                authn_request(entity_id=SIGNING_SP, acs_url=SIGNING_SP_ACS, sso_url=BASE_URL + signing_sso),
                SP_KEYS,
            ),
        ),
        ("/saml/slo", "SAMLRequest", logout_request()),
        ("/saml/slo", "SAMLResponse", logout_response()),
    ]


def test_the_real_messages_mutated_below_are_accepted(client, real_messages) -> None:
    for path, param, xml in real_messages[:3]:
        response = send(client, path, param, xml, "post")
        assert response.status_code == 303 and response.location.startswith("/login?request="), path
    response = send(client, *real_messages[3], "redirect")
    assert response.status_code == 302 and response.location.startswith("https://sp.example.com/saml/sls?")
    # No logout of ours is awaiting an answer: refused, as a page (200: Bindings 3.4.6).
    response = send(client, *real_messages[4], "redirect")
    assert response.status_code == 200 and "answers no logout of ours" in page_text(response.get_data(as_text=True))


@SETTINGS
@given(data=st.data(), binding=st.sampled_from(["redirect", "post"]), relay_state=st.none() | HOSTILE_TEXT)
def test_a_mutated_real_message_answers_without_a_5xx(client, real_messages, data, binding, relay_state) -> None:
    path, param, xml = data.draw(st.sampled_from(real_messages))
    assert_no_5xx(send(client, path, param, data.draw(mutated(xml)), binding, relay_state))


def test_a_signed_message_for_an_app_whose_stored_certificate_cannot_be_read_is_refused(
    client, store, sps, real_messages
) -> None:
    """A certificate stored before keys were checked on the way in (its key of a type no one knows)."""
    app = store.app(sps["signing"])
    store.save_app(dataclasses.replace(app, sp_certificates=[odd_certificates()[-1]]))
    path, param, xml = real_messages[2]
    for response in (
        send(client, path, param, xml, "post"),
        get(client, path, f"{param}={redirect_value(xml)}&SigAlg={quote(RSA_SHA256, safe='')}&Signature=AAAA"),
    ):
        assert response.status_code == 200 and "SAMLResponse" not in response.get_data(as_text=True)
        assert "signature does not verify" in page_text(response.get_data(as_text=True))
