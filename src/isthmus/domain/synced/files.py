"""Files pushed by a connected workspace (§6.4): upload sessions, then the bytes, stored under the SAME file id.

The sender opens a session (topic ``sharedchannel_upload``) naming the file it wants to push
(``req_file_id``), then POSTs the raw bytes to ``/api/v4/remotecluster/upload/{session id}``. We store the
file as a FileInfo with ``id = req_file_id`` and ``remote_id`` = the sender, so the post that follows
finds its ``file_ids`` here. Pushing the same file again answers the stored FileInfo (idempotent); a file
id that belongs to someone else is refused.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
from collections.abc import AsyncIterator
from typing import Any

from isthmus.core.errors import AppError, invalid
from isthmus.core.ids import is_valid_id
from isthmus.domain import files
from isthmus.domain.context import Domain, transaction
from isthmus.domain.file_images import NotImage, TooManyPixels, analyze_image
from isthmus.domain.models import FileInfo
from isthmus.domain.sharing.ownership import sender_is_home
from isthmus.domain.sharing.refusals import human_size
from isthmus.domain.synced.users import known_only_through_a_relay
from isthmus.store.repo import files as files_repo
from isthmus.store.repo import shared as repo
from isthmus.store.repo import users as users_repo

SESSION_TTL_MS = 24 * 3600 * 1000
_SESSION_KEYS = ("remote_id", "user_id", "channel_id", "req_file_id", "file_size", "filename")


def _bad(detail: str) -> AppError:
    return invalid("api.remote_cluster.invalid_upload_session", "Invalid upload session.", detail)


async def do_open_upload_session(d: Domain, remote_id: str, payload: object) -> dict[str, Any]:
    """Receiver of ``sharedchannel_upload``: validate and store the session (``remote_id`` forced to the sender)."""
    if not isinstance(payload, dict):
        raise _bad("payload")
    for key in ("id", "user_id", "channel_id", "req_file_id"):
        if not is_valid_id(payload.get(key)):
            raise _bad(key)
    size, name = payload.get("file_size"), payload.get("filename")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size:
        raise _bad("file_size")
    if not isinstance(name, str) or not name:
        raise _bad("filename")
    if payload.get("type", "attachment") != "attachment":
        raise _bad("type")
    # The sender records these refusals and shows them to its admins: say why, in words.
    if not d.config.FileSettings.EnableFileAttachments:
        raise AppError("api.file.attachments.disabled.app_error", "File attachments are disabled here.", 501)
    if size > files.max_file_size(d):
        raise AppError("api.file.file_size.too_large", f"The file is larger than this workspace accepts "
                       f"({human_size(files.max_file_size(d))}).", 413)
    row: dict[str, Any] = {
        "id": payload["id"], "type": "attachment", "create_at": d.now(), "user_id": payload["user_id"],
        "channel_id": payload["channel_id"], "filename": files.sanitize_name(name), "file_size": size,
        "file_offset": 0, "remote_id": remote_id, "req_file_id": payload["req_file_id"]}
    async with transaction(d) as tx:
        link = await repo.select_remote(tx.conn, row["channel_id"], remote_id)
        if link is None or link["delete_at"]:
            raise AppError("api.shared_channel.not_shared", "That channel is not shared with you.", 403)
        user = await users_repo.select_user(tx.conn, row["user_id"])
        # In a mesh the channel's home relays the file of a user we know directly from its own server, as it
        # relays that user's posts (domain.sharing.ownership); never a file of one of our own users. And a user we
        # know only through another server's relay may be its own server's: the upload comes before the sync
        # message whose profile makes that server the owner (upsert_remote_user), so it is not refused for that.
        if user is not None and user["remote_id"] != remote_id and not (
                user["remote_id"] is not None and await sender_is_home(tx, row["channel_id"], remote_id)) \
                and not known_only_through_a_relay(user["remote_id"], user["props"]):
            raise AppError("api.remote_cluster.user_not_owned", "The uploader is not owned by the sender.", 403)
        seen = await repo.select_upload_session(tx.conn, row["id"])
        if seen is not None:
            # The same frame delivered twice (a resent request whose first answer was lost) opens the same
            # session: answer it again rather than make the sender believe we refuse the file.
            if all(seen[k] == row[k] for k in _SESSION_KEYS):
                return {**seen, "file_offset": 0}
            raise _bad("id already used")
        await repo.delete_upload_sessions_before(tx.conn, d.now() - SESSION_TTL_MS)
        await repo.insert_upload_session(tx.conn, row)
    return {**row, "file_offset": 0}


async def do_receive_upload(d: Domain, remote_id: str, session_id: str, chunks: AsyncIterator[bytes]) -> FileInfo:
    """The bytes of an upload session; returns the stored FileInfo (whole body required)."""
    if not is_valid_id(session_id):
        raise _bad("upload_id")
    async with d.db.read() as conn:
        session = await repo.select_upload_session(conn, session_id)
    if session is None:
        raise AppError("app.upload.get.app_error", "Upload session not found.", 404)
    if session["remote_id"] != remote_id:
        raise AppError("api.context.remote_id_mismatch.app_error", "The upload belongs to another connection.", 401)
    staged = files.new_staged_upload(d, session["filename"])
    try:
        try:
            async for chunk in chunks:
                staged.write(chunk)
        except OverflowError:
            raise files.too_large(d) from None
        staged.close()
        if staged.size != session["file_size"]:
            raise invalid("api.remote_cluster.upload_incomplete", "The upload is incomplete.",
                          f"got {staged.size} of {session['file_size']} bytes")
        return await _store(d, session, staged)
    finally:
        staged.discard()


async def _store(d: Domain, session: dict[str, Any], staged: Any) -> FileInfo:
    file_id = session["req_file_id"]
    async with d.db.read() as conn:
        existing = await files_repo.select_file_info(conn, file_id)
    if existing is not None:
        if existing["remote_id"] != session["remote_id"] or existing["channel_id"] != session["channel_id"]:
            raise invalid("api.remote_cluster.file_conflict", "A different file with that id exists here.")
        return FileInfo(**existing)  # pushed before: idempotent
    name = session["filename"]
    ext = files.extension_of(name)
    try:
        async with files.image_decoders(d):  # a peer's files share the gate with local uploads
            images = await asyncio.to_thread(analyze_image, staged.path, files.max_image_pixels(d))
    except (NotImage, TooManyPixels):
        images = None
    now = d.now()
    base = f"remote/{session['remote_id']}/channels/{session['channel_id']}/{file_id}"
    row: dict[str, Any] = {
        "id": file_id, "creator_id": session["user_id"], "post_id": "", "channel_id": session["channel_id"],
        "create_at": now, "update_at": now, "delete_at": 0, "name": name, "extension": ext, "size": staged.size,
        "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream", "width": 0, "height": 0,
        "has_preview_image": False, "mini_preview": None, "path": f"{base}/data", "thumbnail_path": "",
        "preview_path": "", "content_hash": staged.sha256, "remote_id": session["remote_id"]}
    store = files.blobs(d)
    await store.put_file(row["path"], staged.path)
    if images is not None:
        row.update(mime_type=images.mime_type, width=images.width, height=images.height, has_preview_image=True,
                   mini_preview=images.mini, thumbnail_path=f"{base}/thumb.jpg", preview_path=f"{base}/preview.jpg")
        await store.put_bytes(row["thumbnail_path"], images.thumbnail)
        await store.put_bytes(row["preview_path"], images.preview)
    async with transaction(d) as tx:
        if await files_repo.select_file_info(tx.conn, file_id) is None:
            await files_repo.insert_file_infos(tx.conn, [row])
        await repo.delete_upload_session(tx.conn, session["id"])
    return FileInfo(**row)


async def do_set_remote_profile_image(d: Domain, remote_id: str, user_id: str, data: bytes) -> None:
    """§6.5 receiver: the picture of a synthetic user, pushed by the connection that owns it."""
    from isthmus.domain import user_images
    from isthmus.domain.models import Actor

    if not is_valid_id(user_id):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid or missing user_id in request URL.", 400)
    async with d.db.read() as conn:
        row = await users_repo.select_user(conn, user_id)
    if row is None or row["remote_id"] != remote_id:
        raise AppError("api.context.remote_id_mismatch.app_error",
                       "The user is not a user of this secure connection.", 401)
    if len(data) > files.max_file_size(d):
        raise user_images.too_large()
    system = Actor(user_id="", roles="system_admin system_user")
    await user_images.do_set_profile_image(d, system, user_id, io.BytesIO(data))
