"""`idp brands update` with host names and appearance, and `idp brands set-logo` / `remove-logo`."""

from __future__ import annotations

from tests.api.test_icons import png
from tests.cli.test_cli import ok, refused
from tests.cli.test_people_cli import home  # noqa: F401  (the fixture)


def test_an_operator_sets_host_names_appearance_and_a_logo(home, tmp_path) -> None:  # noqa: F811
    brand = ok(home, "brands", "create", "Acme")
    other = ok(home, "brands", "create", "Other")
    updated = ok(
        home,
        *("brands", "update", brand["id"], "--display-name", "Acme Realty Group", "--accent-color", "#C0FFEE"),
        *("--hostname", "login.acme.example", "--hostname", "SSO.acme.example"),
    )
    assert updated["hostnames"] == ["login.acme.example", "sso.acme.example"]
    assert updated["palette"]["primary"] == "#c0ffee"
    assert updated["messages"]["display_name"] == "Acme Realty Group"

    assert "another brand" in refused(home, "brands", "update", other["id"], "--hostname", "login.acme.example")
    assert "#rrggbb" in refused(home, "brands", "update", other["id"], "--accent-color", "teal")
    assert ok(home, "brands", "update", brand["id"], "--no-hostnames")["hostnames"] is None

    image = tmp_path / "logo.png"
    image.write_bytes(png(3, 3))
    with_logo = ok(home, "brands", "set-logo", brand["id"], str(image))
    assert with_logo["assets"]["logo"].endswith(f"/brands/{brand['id']}/logo?v=1")
    assert ok(home, "brands", "remove-logo", brand["id"])["assets"]["logo"] is None
    (tmp_path / "not-an-image.txt").write_text("hello")
    assert "logo must be a PNG" in refused(home, "brands", "set-logo", brand["id"], str(tmp_path / "not-an-image.txt"))
