"""A store filled for a benchmark: one brokerage, its agents and apps, and fresh launch links for them."""

from __future__ import annotations

import dataclasses
import functools
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from idp.accounts import provisioning
from idp.applications.links import LaunchLinks
from idp.applications.service import Applications, Caller
from idp.config import Settings
from idp.keyring import KeyRing
from idp.models import Membership, Role, User
from idp.store import open_store

ACS_URL = "https://sp.bench.example/acs"


@dataclass(frozen=True)
class Population:
    settings: Settings
    brand_id: str
    app_id: str
    agent_ids: list[str]

    @functools.cached_property
    def links(self) -> LaunchLinks:
        return LaunchLinks(self.settings, KeyRing.load(self.settings.keys_dir))

    def fresh_links(self, count: int) -> list[str]:
        """`count` launch links into the app, each for an agent picked at random: every one used once."""
        links, now = self.links, time.time()
        return [
            links.url(
                user_id=random.choice(self.agent_ids), app_id=self.app_id, brand_id=self.brand_id, mfa=False, now=now
            )
            for _ in range(count)
        ]


def populate(env: Mapping[str, str], *, size: int, signed: str, algorithm: str | None = None) -> Population:
    """`size` agents and `size` apps (the launched one among them), in the store `env` names; the
    launched app signs with `algorithm` (its `signature_algorithm`; None: the default, RSA-SHA256)."""
    settings = Settings.from_env(env)
    store = open_store(settings)
    try:
        brokerage = provisioning.create_brand(store, "Bench Realty")
        admin = provisioning.create_user(
            store, "admin@bench.example", first_name="Ann", last_name="Admin", brand_id=brokerage.id, role="Admin"
        )
        shown = Applications(store, settings, None, keyring=KeyRing.load(settings.keys_dir)).create(
            Caller(admin),
            brokerage.id,
            {
                "name": "Bench SP",
                "authentication_type": "SAML",
                "acs_url": ACS_URL,
                "entity_id": "https://sp.bench.example/metadata",
                "signed": signed,
                **({"signature_algorithm": algorithm} if algorithm else {}),
            },
        )
        # The rest are written as the service would have stored them, without re-validating each one.
        for number in range(1, size):
            store.save_app(
                dataclasses.replace(
                    shown.app,
                    id=str(uuid.uuid4()),
                    name=f"Bench SP {number}",
                    entity_id=f"https://sp{number}.bench.example/metadata",
                    acs_url=f"https://sp{number}.bench.example/acs",
                    acs_endpoints=[{"url": f"https://sp{number}.bench.example/acs", "index": 0, "is_default": True}],
                )
            )
        now = time.time()
        agent_ids = []
        for number in range(size):
            user = User(str(uuid.uuid4()), f"agent{number}@bench.example", "Avery", f"Agent{number}", None, now, now)
            store.save_user(user)
            store.save_membership(Membership(user.id, brokerage.id, Role.AGENT.value))
            agent_ids.append(user.id)
        return Population(settings, brokerage.id, shown.app.id, agent_ids)
    finally:
        store.close()
