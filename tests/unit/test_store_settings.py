"""The store's timeouts, read once from the environment: numbers of seconds, positive and finite."""

from __future__ import annotations

import pytest

from idp.config import Settings
from idp.errors import ConfigurationError

TIMEOUTS = ["IDP_REDIS_SOCKET_TIMEOUT", "IDP_REDIS_CONNECT_TIMEOUT", "IDP_SQLITE_BUSY_TIMEOUT"]


def test_the_defaults_keep_a_request_well_inside_a_second_on_redis_and_gunicorn_s_timeout_on_sqlite() -> None:
    settings = Settings.from_env({})

    assert settings.redis_socket_timeout == 0.5
    assert settings.redis_connect_timeout == 0.5
    assert settings.sqlite_busy_timeout == 5.0


def test_fractions_of_a_second_are_read() -> None:
    settings = Settings.from_env(dict.fromkeys(TIMEOUTS, "0.25"))

    assert (settings.redis_socket_timeout, settings.redis_connect_timeout, settings.sqlite_busy_timeout) == (
        0.25,
        0.25,
        0.25,
    )


@pytest.mark.parametrize("name", TIMEOUTS)
@pytest.mark.parametrize("raw", ["soon", "0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: raw})
