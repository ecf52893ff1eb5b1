"""The typed `Store` over each backend: brands, users, memberships, applications, icons, grants, claims."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest

from idp.errors import Conflict
from idp.models import Grant, Icon, Membership, SsoApplication
from idp.store import Store
from tests.support import Factory, wait_until

MakeApp = Callable[..., SsoApplication]


def ids(items) -> list[str]:
    return [item.id for item in items]


# brands


def test_brand_lineage_walks_parents_up_to_the_root(store: Store, make: Factory) -> None:
    root = make.brand("Root")
    office = make.brand("Office", parent=root, brand_type="Office")
    team = make.brand("Team", parent=office, brand_type="Team")

    assert store.brand_lineage(team.id) == [team, office, root]


def test_brand_lineage_of_a_root_brand_is_the_brand_alone(store: Store, make: Factory) -> None:
    root = make.brand("Root")

    assert store.brand_lineage(root.id) == [root]


def test_brand_lineage_of_an_unknown_brand_is_empty(store: Store, make: Factory) -> None:
    make.brand("Root")

    assert store.brand_lineage("no-such-brand") == []


def test_brand_lineage_stops_on_a_cycle(store: Store, make: Factory) -> None:
    root = make.brand("Root")
    child = make.brand("Child", parent=root)
    looped_root = dataclasses.replace(root, parent_id=child.id)
    store.save_brand(looped_root)

    assert store.brand_lineage(child.id) == [child, looped_root]


def test_brand_lineage_stops_at_a_missing_parent(store: Store, make: Factory) -> None:
    orphan = dataclasses.replace(make.brand("Orphan"), parent_id="deleted-parent")
    store.save_brand(orphan)

    assert store.brand_lineage(orphan.id) == [orphan]


# users and memberships


def test_save_user_then_user_returns_it(store: Store, make: Factory) -> None:
    user = make.user(email="ada@example.com")

    assert store.user(user.id) == user


def test_a_users_custom_attributes_are_kept_and_replaced(store: Store, make: Factory) -> None:
    user = dataclasses.replace(
        make.user(email="ada@example.com"), attributes={"mlsid": "M-1", "office_mlsid": ["O-1", "O-2"]}
    )
    store.save_user(user)

    assert store.user(user.id).attributes == {"mlsid": "M-1", "office_mlsid": ["O-1", "O-2"]}
    store.save_user(dataclasses.replace(user, attributes={"nar_number": "N-9"}))
    assert store.user_by_email("ada@example.com").attributes == {"nar_number": "N-9"}


def test_a_user_stored_without_attributes_reads_back_with_none(store: Store, make: Factory) -> None:
    user = make.user(email="ada@example.com")
    doc = dataclasses.asdict(user)
    del doc["attributes"]  # as written before users carried custom attributes
    store.backend.put("user", user.id, doc, unique={"email": user.email})

    assert store.user(user.id).attributes == {}


def test_user_by_email_is_case_insensitive(store: Store, make: Factory) -> None:
    user = make.user(email="Ada.Lovelace@Example.com")

    assert store.user_by_email("ada.lovelace@example.com") == user
    assert store.user_by_email("ADA.LOVELACE@EXAMPLE.COM") == user


def test_user_by_email_of_an_unknown_address_is_none(store: Store, make: Factory) -> None:
    make.user(email="ada@example.com")

    assert store.user_by_email("bob@example.com") is None


def test_save_user_with_another_users_email_in_other_case_raises_conflict_on_email(store: Store, make: Factory) -> None:
    ada = make.user(email="ada@example.com")
    bob = make.user(email="bob@example.com")

    with pytest.raises(Conflict) as refused:
        store.save_user(dataclasses.replace(bob, email="ADA@Example.com"))

    assert refused.value.field == "email"
    assert store.user(bob.id) == bob
    assert store.user_by_email("ada@example.com") == ada
    assert store.user_by_email("bob@example.com") == bob


def test_save_user_may_keep_its_own_email(store: Store, make: Factory) -> None:
    ada = make.user(email="ada@example.com")
    renamed = dataclasses.replace(ada, first_name="Augusta", email="ADA@example.com")

    store.save_user(renamed)

    assert store.user_by_email("ada@example.com") == renamed


def test_changing_a_users_email_frees_the_old_address(store: Store, make: Factory) -> None:
    ada = make.user(email="ada@example.com")
    store.save_user(dataclasses.replace(ada, email="augusta@example.com"))

    bob = make.user(email="ada@example.com")

    assert store.user_by_email("ada@example.com") == bob
    assert store.user_by_email("augusta@example.com").id == ada.id


def test_memberships_of_lists_the_users_memberships_only(store: Store, make: Factory) -> None:
    first, second, unrelated = make.brand("First"), make.brand("Second"), make.brand("Unrelated")
    ada = make.user(brand=first, role="Admin")
    make.member(ada, second, "Agent")
    bob = make.user(brand=unrelated)

    assert sorted(store.memberships_of(ada.id), key=lambda m: m.brand_id) == sorted(
        [Membership(ada.id, first.id, "Admin"), Membership(ada.id, second.id, "Agent")], key=lambda m: m.brand_id
    )
    assert store.memberships_of(bob.id) == [Membership(bob.id, unrelated.id, "Agent")]


def test_saving_a_membership_again_replaces_its_role(store: Store, make: Factory) -> None:
    brand = make.brand()
    ada = make.user(brand=brand, role="Agent")

    make.member(ada, brand, "Admin")

    assert store.memberships_of(ada.id) == [Membership(ada.id, brand.id, "Admin")]


def test_memberships_of_a_user_without_any_is_empty(store: Store, make: Factory) -> None:
    ada = make.user()

    assert store.memberships_of(ada.id) == []


# API clients


def test_save_client_then_client_returns_it(store: Store, make: Factory) -> None:
    new = make.client("web")

    assert store.client(new.client.id) == new.client
    assert store.client("no-such-client") is None


# SSO applications


def test_app_returns_a_saved_application(store: Store, make: Factory, make_app: MakeApp) -> None:
    app = make_app(
        make.brand(),
        mappings={"mail": "email", "names": ["first_name", "last_name"], "tier": {"values": ["a", "b"]}},
        extra={"k": [1, 2]},
        signature_algorithm="rsa-sha512",
        affiliations=["https://affiliation.example.com"],
        attribute_consuming_services=[0, 3],
    )

    assert store.app(app.id) == app


def test_apps_owned_by_lists_only_the_brands_applications(store: Store, make: Factory, make_app: MakeApp) -> None:
    owner, other = make.brand("Owner"), make.brand("Other")
    first, second = make_app(owner), make_app(owner)
    make_app(other)

    assert sorted(ids(store.apps_owned_by(owner.id))) == sorted([first.id, second.id])


def test_apps_allowed_for_lists_an_app_allowed_for_two_brands_once(
    store: Store, make: Factory, make_app: MakeApp
) -> None:
    owner, office, team, elsewhere = (make.brand(name) for name in ("Owner", "Office", "Team", "Elsewhere"))
    shared = make_app(owner, allowed=[office, team])
    office_only = make_app(owner, allowed=[office])
    make_app(owner, allowed=[elsewhere])

    allowed = store.apps_allowed_for([office.id, team.id])

    assert sorted(ids(allowed)) == sorted([shared.id, office_only.id])


def test_apps_allowed_for_no_brands_is_empty(store: Store, make: Factory, make_app: MakeApp) -> None:
    brand = make.brand()
    make_app(brand, allowed=[brand])

    assert store.apps_allowed_for([]) == []


def test_moving_an_app_to_another_owner_and_brands_updates_both_listings(
    store: Store, make: Factory, make_app: MakeApp
) -> None:
    old, new = make.brand("Old"), make.brand("New")
    app = make_app(old, allowed=[old])

    store.save_app(dataclasses.replace(app, owner_brand_id=new.id, brands=[new.id]))

    assert store.apps_owned_by(old.id) == []
    assert store.apps_allowed_for([old.id]) == []
    assert ids(store.apps_owned_by(new.id)) == [app.id]
    assert ids(store.apps_allowed_for([new.id])) == [app.id]


def test_a_soft_deleted_app_is_gone_from_app_owned_and_allowed_listings(
    store: Store, make: Factory, make_app: MakeApp
) -> None:
    owner, member = make.brand("Owner"), make.brand("Member")
    kept = make_app(owner, allowed=[member])
    deleted = make_app(owner, allowed=[member])

    store.save_app(dataclasses.replace(deleted, deleted_at=time.time()))

    assert store.app(deleted.id) is None
    assert store.app(kept.id) == kept
    assert ids(store.apps_owned_by(owner.id)) == [kept.id]
    assert ids(store.apps_allowed_for([owner.id, member.id])) == [kept.id]


def test_save_icon_then_icon_round_trips_the_bytes_exactly(store: Store, make: Factory, make_app: MakeApp) -> None:
    app = make_app(make.brand())
    data = bytes(range(256)) + b"\x00\xff\x89PNG\r\n\x1a\n"

    store.save_icon(app.id, Icon("image/png", data))

    assert store.icon(app.id) == Icon("image/png", data)


def test_an_icon_keeps_whether_it_was_reencoded(store: Store, make: Factory, make_app: MakeApp) -> None:
    app = make_app(make.brand())

    store.save_icon(app.id, Icon("image/png", b"clean", reencoded=True))

    assert store.icon(app.id) == Icon("image/png", b"clean", reencoded=True)


def test_icon_of_an_app_without_one_is_none(store: Store, make: Factory, make_app: MakeApp) -> None:
    app = make_app(make.brand())

    assert store.icon(app.id) is None


# grants and single-use claims


def grant(**fields) -> Grant:
    values = {
        "user_id": "user-1",
        "client_id": "client-1",
        "family_id": "family-1",
        "expires_at": time.time() + 60,
        "kind": "access",
    }
    return Grant(**{**values, **fields})


def test_save_grant_then_grant_returns_it_until_dropped(store: Store) -> None:
    saved = grant()
    store.save_grant("hash-1", saved, ttl=60)

    assert store.grant("hash-1") == saved
    assert store.drop_grant("hash-1") is True
    assert store.grant("hash-1") is None
    assert store.drop_grant("hash-1") is False


def test_save_grant_with_a_ttl_expires(store: Store) -> None:
    short, long = grant(kind="access"), grant(kind="refresh")
    store.save_grant("short", short, ttl=2.0)  # long enough to be read once on a loaded machine
    store.save_grant("long", long, ttl=60)
    assert store.grant("short") == short

    wait_until(lambda: store.grant("short") is None, timeout=5, what="grant expiry")

    assert store.grant("long") == long


def test_claim_once_passes_through_to_the_backend(store: Store) -> None:
    assert store.claim_once("refresh:abc", ttl=60) is True
    assert store.claim_once("refresh:abc", ttl=60) is False
    assert store.backend.claim_once("refresh:abc", ttl=60) is False


# audit events


def _audit_doc(action: str) -> dict:
    return {"action": action, "outcome": "success"}


def test_audit_events_are_found_by_brand_user_and_action_in_time_order(store: Store) -> None:
    keys = [f"{n:020d}-e{n}" for n in (3, 1, 2)]
    store.save_audit_event(keys[0], _audit_doc("sign_in"), 60, brand_ids=["b1"], user_ids=["u1"])
    store.save_audit_event(keys[1], _audit_doc("launch"), 60, brand_ids=["b1", "b2"], user_ids=["u2"])
    store.save_audit_event(keys[2], _audit_doc("sign_in"), 60, brand_ids=["b2"], user_ids=["u1", "u2"])

    assert store.audit_keys() == sorted(keys)
    assert store.audit_keys("brand", "b1") == [keys[1], keys[0]]
    assert store.audit_keys("user", "u2") == [keys[1], keys[2]]
    assert store.audit_keys("action", "sign_in") == [keys[2], keys[0]]
    assert store.audit_keys("brand-action", "b2:sign_in") == [keys[2]]
    assert [doc["action"] for doc in store.audit_events([keys[2], keys[1]])] == ["sign_in", "launch"]


def test_audit_events_go_when_their_retention_ends(store: Store) -> None:
    store.save_audit_event("00000000000000000001-short", _audit_doc("sign_in"), 0.3, brand_ids=["b"], user_ids=["u"])
    store.save_audit_event("00000000000000000002-long", _audit_doc("sign_in"), 60, brand_ids=["b"], user_ids=["u"])

    wait_until(lambda: store.audit_events(["00000000000000000001-short"]) == [], timeout=5, what="expiry")
    assert store.audit_keys("brand", "b") == ["00000000000000000002-long"]
    assert store.audit_keys("user", "u") == ["00000000000000000002-long"]
