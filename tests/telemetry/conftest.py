from __future__ import annotations

from tests.api.conftest import apps, org

__all__ = ["apps", "org"]
