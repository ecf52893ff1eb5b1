"""/metrics through Flask's test client: what each flow counts, judged by prometheus-client's parser."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from idp.config import Settings
from idp.web import create_app
from tests.api.helpers import Org, saml_app
from tests.conftest import Api
from tests.hostile.front import sign_in
from tests.telemetry.scrape import grew, samples, value

TOKEN = "m" * 40


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/plain"
    return response.text


def test_the_exposition_parses_and_counts_requests_by_route(client):
    before = value(scrape(client), "idp_request_duration_seconds_count", route="/healthz", status="200")
    for _ in range(3):
        client.get("/healthz")
    text = scrape(client)
    assert value(text, "idp_request_duration_seconds_count", route="/healthz", status="200") - before == 3
    assert (
        "idp_request_duration_seconds_bucket",
        frozenset({("route", "/healthz"), ("method", "GET"), ("status", "200"), ("le", "+Inf")}),
    ) in samples(text)


def test_a_launch_counts_by_app_and_outcome_and_times_its_signatures(apps, client, org: Org):
    created = apps.created(org.admin, org.brand, saml_app(signed="both"))
    (listed,) = [item for item in apps.listed(org.agent, org.brand) if item["id"] == created["id"]]
    before = scrape(client)

    assert client.get(listed["open_url"]).status_code == 200
    assert client.get(listed["open_url"]).status_code == 400  # used already
    assert client.get("/sso_applications/open?hash=" + quote("k1.not-a-link")).status_code == 400

    after = scrape(client)
    app_id = created["id"]
    assert grew(before, after, "idp_launches_total", app=app_id, outcome="saml") == 1
    assert grew(before, after, "idp_launches_total", app=app_id, outcome="LinkInvalid") == 1
    assert grew(before, after, "idp_launches_total", app="unknown", outcome="LinkInvalid") == 1
    # signed "both": the assertion, then the response around it
    assert grew(before, after, "idp_signature_duration_seconds_count", kind="xml") == 2
    assert grew(before, after, "idp_store_operation_duration_seconds_count", operation="claim_once") == 2


def test_request_durations_are_labelled_by_url_rule_never_by_path(apps, client, org: Org):
    created = apps.created(org.admin, org.brand, saml_app())
    client.get(f"/sso_applications/{created['id']}/metadata")
    client.get("/no/such/path-4711")
    text = scrape(client)
    assert value(text, "idp_request_duration_seconds_count", route="/sso_applications/<app_id>/metadata") >= 1
    assert value(text, "idp_request_duration_seconds_count", route="unmatched", status="404") >= 1
    assert created["id"] not in text and "path-4711" not in text


def test_a_made_up_method_adds_no_series(client):
    for method in ("BREW", "X-4711-CUSTOM"):
        client.open("/healthz", method=method)
    text = scrape(client)
    assert "BREW" not in text and "X-4711" not in text
    assert value(text, "idp_request_duration_seconds_count", route="unmatched", method="other", status="405") >= 2


def test_sign_ins_count_by_method_and_outcome(api: Api, client, org: Org, make):
    before = scrape(client)
    api.token(org.agent)
    refused = client.post(
        "/oauth2/token",
        json={
            "grant_type": "password",
            "username": org.agent.email,
            "password": "not the password",
            "client_id": api.oauth_client.client.id,
            "client_secret": api.oauth_client.secret,
        },
    )
    assert refused.status_code == 400
    assert sign_in(client, org.admin).status_code == 303
    after = scrape(client)
    assert (
        grew(before, after, "idp_signins_total", method="password", outcome="success") == 2
    )  # the token endpoint and the login form
    assert grew(before, after, "idp_signins_total", method="password", outcome="failure") == 1


def test_throttle_refusals_count_by_action(client, org: Org, api: Api):
    body = {
        "grant_type": "password",
        "username": org.agent.email,
        "password": "not the password",
        "client_id": api.oauth_client.client.id,
        "client_secret": api.oauth_client.secret,
    }
    before = scrape(client)
    statuses = [client.post("/oauth2/token", json=body).status_code for _ in range(11)]
    assert statuses == [400] * 10 + [429]
    after = scrape(client)
    assert (
        value(after, "idp_throttle_refusals_total", action="password")
        - value(before, "idp_throttle_refusals_total", action="password")
        == 1
    )
    assert (
        value(after, "idp_signins_total", method="password", outcome="throttled")
        - value(before, "idp_signins_total", method="password", outcome="throttled")
        == 1
    )


def test_a_store_outage_counts_as_a_store_error(client, app, monkeypatch):
    from idp.errors import StoreUnavailable

    backend = app.extensions["idp"].store.backend
    before = scrape(client)

    def unavailable(*_args, **_kwargs):
        raise StoreUnavailable()

    monkeypatch.setattr(backend.inner, "get", unavailable)
    assert client.get("/sso_applications/some-app/metadata").status_code == 503
    monkeypatch.undo()
    after = scrape(client)
    assert (
        value(after, "idp_store_errors_total", operation="get", error="unavailable")
        - value(before, "idp_store_errors_total", operation="get", error="unavailable")
        == 1
    )


# who may read them


@pytest.fixture
def guarded(env, store):
    """The service with a metrics token set; `proxy_hops` as the test says."""

    def build(**extra: str):
        return create_app(Settings.from_env({**env, "IDP_METRICS_TOKEN": TOKEN, **extra}), store=store).test_client()

    return build


def test_metrics_are_served_to_loopback_only_without_the_token(guarded):
    client = guarded()
    assert client.get("/metrics").status_code == 200  # the test client's peer is 127.0.0.1
    elsewhere = {"REMOTE_ADDR": "203.0.113.7"}
    refused = client.get("/metrics", environ_base=elsewhere)
    assert refused.status_code == 403
    assert "idp_" not in refused.text
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert client.get("/metrics", environ_base=elsewhere, headers=wrong).status_code == 403
    granted = client.get("/metrics", environ_base=elsewhere, headers={"Authorization": f"Bearer {TOKEN}"})
    assert granted.status_code == 200 and "idp_request_duration_seconds" in granted.text


def test_behind_a_proxy_a_loopback_peer_is_not_enough(guarded):
    client = guarded(IDP_PROXY_HOPS="1")
    # The proxy connects from loopback for everyone; without the token, nobody reads the metrics,
    # whatever X-Forwarded-For claims.
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_short_metrics_token_is_refused_at_start(env):
    from idp.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="IDP_METRICS_TOKEN"):
        Settings.from_env({**env, "IDP_METRICS_TOKEN": "short"})


def test_sp_initiated_answers_count_by_status(apps, client, org: Org):
    from tests.conftest import BASE_URL
    from tests.e2e.sp_helpers import authn_request_xml, redirect_query
    from tests.hostile.front import sign_in as front_door_sign_in

    entity_id, acs_url = "https://sp.example.com/metrics-sp", "https://sp.example.com/acs"
    apps.created(
        org.admin,
        org.brand,
        saml_app(
            entity_id=entity_id,
            acs_url=acs_url,
            name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        ),
    )
    assert front_door_sign_in(client, org.agent).status_code == 303

    def ask(**request) -> None:
        xml = authn_request_xml(issuer=entity_id, destination=f"{BASE_URL}/saml/sso", acs_url=acs_url, **request)
        response = client.get(f"/saml/sso?{redirect_query(xml)}")
        assert response.status_code == 200 and "SAMLResponse" in response.text

    before = scrape(client)
    ask()
    ask(name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")  # not the app's format
    after = scrape(client)
    assert grew(before, after, "idp_sp_answers_total", status="Success") == 1
    assert grew(before, after, "idp_sp_answers_total", status="Requester/InvalidNameIDPolicy") == 1


def test_the_totp_step_counts_as_its_own_method(api: Api, client, org: Org):
    from tests.api.helpers import parse_page
    from tests.api.mfa_helpers import Mfa, next_code, wrong_code
    from tests.hostile.front import SAME_ORIGIN
    from tests.hostile.front import sign_in as front_door_sign_in

    enabled = Mfa(client, api).enable(org.agent)
    assert front_door_sign_in(client, org.agent).headers["Location"] == "/login/totp"
    form = parse_page(client.get("/login/totp").get_data(as_text=True)).forms[0]
    before = scrape(client)
    wrong = client.post("/login/totp", data={**form.hidden, "code": wrong_code(enabled.secret)}, headers=SAME_ORIGIN)
    assert wrong.status_code == 401
    right = client.post("/login/totp", data={**form.hidden, "code": next_code(enabled.secret)}, headers=SAME_ORIGIN)
    assert right.status_code == 303
    after = scrape(client)
    assert (
        grew(before, after, "idp_signins_total", method="totp", outcome="failure"),
        grew(before, after, "idp_signins_total", method="totp", outcome="success"),
    ) == (1, 1)
