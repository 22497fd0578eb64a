"""All tables, one module per domain noun. Alembic autogenerates against ``metadata``."""

from isthmus.store.schema import channels, posts, roles, statuses, system, teams, users  # noqa: F401  (register tables)
from isthmus.store.schema.base import metadata

__all__ = ["metadata"]
