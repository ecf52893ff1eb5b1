"""A brand's host names (each held by one brand, found again by name) and its logo, on every backend."""

from __future__ import annotations

import dataclasses

import pytest

from idp.errors import Conflict
from idp.models import Icon
from idp.store import Store
from tests.support import Factory


def test_a_brand_is_found_by_each_of_its_host_names(store: Store, make: Factory) -> None:
    acme = dataclasses.replace(make.brand("Acme"), hostnames=["login.acme.example", "sso.acme.example"])
    store.save_brand(acme)

    assert store.brand_by_hostname("login.acme.example") == acme
    assert store.brand_by_hostname("sso.acme.example") == acme
    assert store.brand_by_hostname("other.example") is None


def test_a_host_name_held_by_one_brand_is_refused_to_another_and_nothing_is_written(
    store: Store, make: Factory
) -> None:
    acme = dataclasses.replace(make.brand("Acme"), hostnames=["login.acme.example"])
    store.save_brand(acme)
    other = make.brand("Other")

    with pytest.raises(Conflict):
        store.save_brand(dataclasses.replace(other, name="Renamed", hostnames=["own.example", "login.acme.example"]))

    assert store.brand(other.id) == other
    assert store.brand_by_hostname("own.example") is None
    assert store.brand_by_hostname("login.acme.example") == acme


def test_a_host_name_let_go_is_free_for_another_brand(store: Store, make: Factory) -> None:
    acme = dataclasses.replace(make.brand("Acme"), hostnames=["login.acme.example"])
    store.save_brand(acme)
    store.save_brand(dataclasses.replace(acme, hostnames=[]))
    other = dataclasses.replace(make.brand("Other"), hostnames=["login.acme.example"])

    store.save_brand(other)

    assert store.brand_by_hostname("login.acme.example") == other


def test_a_brand_logo_is_kept_and_dropped_with_the_brand(store: Store, make: Factory) -> None:
    acme = make.brand("Acme")
    store.save_brand_logo(acme.id, Icon("image/png", b"\x89PNG-bytes", reencoded=True))

    assert store.brand_logo(acme.id) == Icon("image/png", b"\x89PNG-bytes", reencoded=True)
    store.drop_brand(acme.id)
    assert store.brand_logo(acme.id) is None
