"""All tables, one module per domain noun. Alembic autogenerates against ``metadata``."""

from isthmus.store.schema import (  # noqa: F401  (register tables)
    bookmarks,
    channels,
    cluster,
    emoji,
    files,
    posts,
    preferences,
    profile_attributes,
    refusals,
    remotes,
    roles,
    shared,
    statuses,
    system,
    teams,
    users,
)
from isthmus.store.schema.base import metadata

__all__ = ["metadata"]
