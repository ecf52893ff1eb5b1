from __future__ import annotations

from tests.api.conftest import apps, org  # noqa: F401 - the API suite's fixtures, shared
