"""The admin console's door and its brand pages: who may sit at it, and which brands they see."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.console.conftest import document, sign_in_from


def test_without_a_session_the_console_sends_the_browser_to_sign_in_and_back(app):
    answer = app.test_client().get("/admin")
    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/admin"]}


def test_signing_in_from_the_console_comes_back_to_it(app, tree):
    answer = sign_in_from(app, tree.root_admin, "/admin")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/admin")


def test_an_agent_who_administers_no_brand_is_refused(tree, signed_in):
    answer = signed_in(tree.agent).get("/admin")
    assert answer.status_code == 403
    assert "brand administrators" in answer.get_data(as_text=True)


def test_the_tree_shows_the_administered_brands_with_children_below_their_parent(tree, signed_in):
    page = document(signed_in(tree.root_admin).get("/admin"))
    items = page.xpath("//ul[@class='tree']/li")
    assert [item.xpath("string(a)") for item in items] == [tree.root.name, tree.office.name]
    assert [item.get("class") for item in items] == ["depth-0", "depth-1"]
    assert tree.other.name not in page.text_content()


def test_an_office_admin_sees_only_the_office(tree, signed_in):
    browser = signed_in(tree.office_admin)
    page = document(browser.get("/admin"))
    assert [a.text for a in page.xpath("//ul[@class='tree']/li/a")] == [tree.office.name]
    assert page.xpath("//select[@name='brand']") == []  # one brand: nothing to switch between


def test_a_brand_not_administered_is_not_found_whether_or_not_it_exists(tree, signed_in):
    browser = signed_in(tree.office_admin)
    for brand_id in (tree.root.id, tree.other.id, "no-such-brand"):
        assert browser.get(f"/admin/brands/{brand_id}").status_code == 404
        assert browser.get(f"/admin/switch?brand={brand_id}").status_code == 404


def test_the_switcher_goes_to_the_chosen_brand(tree, signed_in):
    browser = signed_in(tree.root_admin)
    options = document(browser.get("/admin")).xpath("//select[@name='brand']/option/@value")
    assert options == [tree.root.id, tree.office.id]
    answer = browser.get(f"/admin/switch?brand={tree.office.id}")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/admin/brands/{tree.office.id}")


def test_a_brand_overview_counts_its_members_and_names_its_parent_and_children(tree, signed_in):
    page = document(signed_in(tree.root_admin).get(f"/admin/brands/{tree.root.id}"))
    facts = dict(zip(page.xpath("//dl[@class='facts']/dt/text()"), page.xpath("//dl[@class='facts']/dd"), strict=True))
    assert facts["Brand id"].text_content() == tree.root.id
    assert facts["Members"].text_content() == "1"
    assert [a.text for a in page.xpath("//h2[.='Brands within']/following-sibling::ul[1]//a")] == [tree.office.name]
    office = document(signed_in(tree.root_admin).get(f"/admin/brands/{tree.office.id}"))
    assert office.xpath("//dt[.='Part of']/following-sibling::dd[1]/a/text()") == [tree.root.name]
    assert office.xpath("//nav[@class='sections']//a[@aria-current='page']/text()") == ["Overview"]
