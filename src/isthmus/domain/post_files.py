"""Posts and their files: ``metadata.files`` on reads and events, file changes on edit, deletion with the post.

* Reads load the files of a whole list with one query, and none at all when no listed post has
  ``file_ids`` (so a plain timeline pays nothing). Deleted posts carry no files.
* An edit that changes ``file_ids`` follows Mattermost's ``processPostFileChanges``: added files are
  attached under the create rules (uploaded to this channel, not attached elsewhere) checked against
  the *editor* (an admin edits with files they uploaded themselves, never with another user's
  unattached, still private, uploads); removed files are deleted, not detached, so they stop being
  downloadable. Unlike Mattermost, which silently drops a file it cannot attach, a refused file
  fails the whole edit with 400, as it does on create.
* Deleting a post deletes its files (and those of the replies deleted with a root) in the same
  transaction.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.domain import files
from isthmus.domain.context import Tx
from isthmus.domain.models import FileInfo, Post


def ordered(infos: list[FileInfo]) -> list[FileInfo]:
    """The order reads list a post's files in (upload time, then id)."""
    return sorted(infos, key=lambda f: (f.create_at, f.id))


async def load_files(conn: AsyncConnection, posts: list[Post]) -> None:
    ids = [p.id for p in posts if p.file_ids and not p.delete_at]
    by_post = await files.infos_for_posts(conn, ids) if ids else {}
    for p in posts:
        p.files = by_post.get(p.id, [])


async def change_files(tx: Tx, editor_id: str, post: Post, new_ids: list[str], now: int) -> None:
    added = [f for f in new_ids if f not in post.file_ids]
    removed = [f for f in post.file_ids if f not in new_ids]
    if added:
        await files.attach_to_post(tx, post.id, post.channel_id, editor_id, added)
    if removed:
        await files.delete_from_post(tx, post.id, removed, now)


async def delete_with_posts(tx: Tx, post: Post, reply_ids: list[str], now: int) -> None:
    """Delete the files of ``post`` (deleted at ``now``) and of its deleted replies.

    ``post.files`` becomes what the files are once this commits (deleted), for the ``post_deleted`` event.
    """
    post.files = (await files.infos_for_posts(tx.conn, [post.id])).get(post.id, []) if post.file_ids else []
    for info in post.files:
        info.delete_at = info.update_at = now
    await files.delete_for_post(tx, post.id, now)
    if reply_ids:
        await files.delete_for_posts(tx, reply_ids, now)
