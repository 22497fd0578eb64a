from __future__ import annotations

from sqlalchemy import Column, String, Table, Text

from isthmus.store.schema.base import metadata

# Key/value facts about this installation (Mattermost's Systems table), e.g. the diagnostic id.
systems = Table(
    "systems", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False, default=""),
)
