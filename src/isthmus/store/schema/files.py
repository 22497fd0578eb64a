from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, LargeBinary, String, Table

from isthmus.store.schema.base import Id, Ms, metadata

# One row per uploaded file (Mattermost's FileInfo). Bytes live in the BlobStore under the
# *_path keys; ``content_hash`` (sha256 hex) lets connected workspaces verify transferred files.
file_infos = Table(
    "file_infos", metadata,
    Column("id", Id, primary_key=True),
    Column("creator_id", Id, nullable=False),
    # "" until the file is attached to a post; a file is attached at most once.
    Column("post_id", String(26), nullable=False, default=""),
    Column("channel_id", Id, nullable=False),
    Column("create_at", Ms, nullable=False),
    Column("update_at", Ms, nullable=False),
    Column("delete_at", Ms, nullable=False, default=0),
    Column("name", String(256), nullable=False),
    Column("extension", String(64), nullable=False, default=""),
    Column("size", BigInteger, nullable=False),
    Column("mime_type", String(256), nullable=False, default=""),
    Column("width", Integer, nullable=False, default=0),
    Column("height", Integer, nullable=False, default=0),
    Column("has_preview_image", Boolean, nullable=False, default=False),
    Column("mini_preview", LargeBinary, nullable=True),
    Column("path", String(512), nullable=False),
    Column("thumbnail_path", String(512), nullable=False, default=""),
    Column("preview_path", String(512), nullable=False, default=""),
    Column("content_hash", String(64), nullable=False, default=""),
    # Set when the file came from a connected workspace.
    Column("remote_id", Id, nullable=True),
)

Index("ix_file_infos_post_id", file_infos.c.post_id)
Index("ix_file_infos_channel_id_create_at", file_infos.c.channel_id, file_infos.c.create_at)
Index("ix_file_infos_creator_id", file_infos.c.creator_id)
