"""What every SCIM resource we build shares: its meta (times and a version over its whole content),
and our validation errors in scim2-models' shape."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from scim2_models import InvalidValueException, Meta, Resource

from idp.errors import ValidationError

USER = "User"
GROUP = "Group"


def _version(resource: Resource[Any]) -> str:
    """A weak ETag over everything the resource says, so any change to it (a membership too) changes it."""
    doc = resource.model_dump(exclude={"meta"})
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    return f'W/"{digest[:20]}"'


def stamp(resource: Resource[Any], resource_type: str, *, created: float, updated: float) -> None:
    """Give the resource its meta: its type, its times, and a version computed from what it now says."""
    resource.meta = Meta(
        resource_type=resource_type,
        created=datetime.fromtimestamp(created, UTC),
        last_modified=datetime.fromtimestamp(updated, UTC),
        version=_version(resource),
    )


def invalid(error: ValidationError) -> InvalidValueException:
    return InvalidValueException(detail=error.message)
