"""File attachments between servers (§6.4): push (sender) and the upload endpoint (receiver).

Files travel before the post that references them, each in two requests: the upload session
(``sharedchannel_upload`` over ``/msg``) and the raw bytes to ``/api/v4/remotecluster/upload/{id}``.
The receiver stores the file under the same id. A failed push (transport, 5xx) fails the batch, so the post is
never delivered pointing at a file the peer could still take (Mattermost #36468); the retry pushes it again.
A file the peer *refuses* (its limits, attachments off) raises :class:`FileRefused` instead: the post goes
without it and the refusal is recorded, so one refused file never blocks the channel (issue 13).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response as HttpResponse

from isthmus.core.errors import AppError
from isthmus.core.ids import new_id
from isthmus.domain import files
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import FileInfo
from isthmus.domain.remotes import RemoteCluster, require_service
from isthmus.domain.shapes import file_info_json
from isthmus.domain.sharing.refusals import ATTACHMENTS_OFF, REFUSED, TOO_LARGE
from isthmus.domain.synced.files import do_open_upload_session, do_receive_upload, do_set_remote_profile_image
from isthmus.federation.auth import credentials_from
from isthmus.federation.endpoints import connections_of
from isthmus.federation.sync.messages import NOT_ENABLED_TEXT, TOPIC_UPLOAD, upload_session_obj
from isthmus.federation.transport import RemoteClient, TransportError, endpoint
from isthmus.federation.wire import Msg, go_json
from isthmus.store.repo import shared as repo

router = APIRouter()


async def on_upload_session(d: Domain, rc: RemoteCluster, payload: Any) -> dict[str, Any]:
    return await do_open_upload_session(d, rc.remote_id, payload)


class FileRefused(Exception):
    """The peer will not take this file (its limits, attachments off, or it refused the upload): the post goes
    without it and the refusal is recorded. Anything else (transport, 5xx) still fails the batch and retries."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _refusal_reason(text: str) -> str:
    low = text.lower()
    return ATTACHMENTS_OFF if "attachments are disabled" in low else TOO_LARGE if "larger than" in low else REFUSED


async def push_file(d: Domain, client: RemoteClient, rc: RemoteCluster, info: FileInfo, uploader: str) -> None:
    """Raises :class:`FileRefused` when the peer answers the upload session with FAIL (or the bytes with a 4xx):
    a business answer about this file, not a reason to hold back the items after it (issue 13)."""
    session_id = new_id()
    session = upload_session_obj(session_id=session_id, create_at=d.now(), user_id=uploader,
                                 channel_id=info.channel_id, filename=info.name, file_size=info.size,
                                 remote_id=rc.remote_id, req_file_id=info.id)
    reply = await client.send_msg(rc.site_url, Msg.new(TOPIC_UPLOAD, session, d.now()), remote_id=rc.remote_id,
                                  token=rc.remote_token)
    if not reply.ok:
        if NOT_ENABLED_TEXT in reply.err:  # shared channels off there for now: the sync itself will fail and retry
            raise TransportError(f"peer refused the upload of file {info.id}: {reply.err[:200]}", status=200)
        raise FileRefused(_refusal_reason(reply.err), reply.err[:200])
    data = await files.blobs(d).read_bytes(info.path)
    try:
        await client.post_bytes(endpoint(rc.site_url, f"api/v4/remotecluster/upload/{session_id}"), data,
                                remote_id=rc.remote_id, token=rc.remote_token)
    except TransportError as err:
        if err.status in (400, 413) or (err.status == 501 and "attachments" in err.error_id):
            raise FileRefused(_refusal_reason(err.peer_message), err.peer_message[:200] or str(err)) from None
        raise
    async with transaction(d) as tx:
        await repo.upsert_attachment_sync(tx.conn, {"id": new_id(), "file_id": info.id, "remote_id": rc.remote_id,
                                                    "create_at": d.now(), "last_sync_at": info.update_at})


async def push_profile_image(d: Domain, client: RemoteClient, rc: RemoteCluster, user_id: str) -> None:
    """§6.5 sender: the user's uploaded picture, multipart field ``image``, filename ``profile.png``."""
    from isthmus.domain import user_images

    image = await user_images.get_profile_image(d, user_id)
    boundary = new_id()
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="profile.png"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + image.data + f"\r\n--{boundary}--\r\n".encode()
    await client.post_bytes(endpoint(rc.site_url, f"api/v4/remotecluster/{user_id}/image"), body,
                            remote_id=rc.remote_id, token=rc.remote_token,
                            content_type=f"multipart/form-data; boundary={boundary}")


@router.post("/remotecluster/upload/{upload_id}")
async def upload_remote_data(upload_id: str, request: Request) -> HttpResponse:
    """Raw file bytes for an upload session opened by the same connection; 200 with the FileInfo."""
    conns = connections_of(request)
    require_service(conns.d)
    rc = await conns.authenticate(credentials_from(request.headers, request.cookies, request.query_params))
    info = await do_receive_upload(conns.d, rc.remote_id, upload_id, request.stream())
    return HttpResponse(content=go_json(file_info_json(info)), media_type="application/json")


@router.post("/remotecluster/{user_id}/image")
async def remote_set_profile_image(user_id: str, request: Request) -> HttpResponse:
    """A connected workspace sets the picture of one of its users (multipart field ``image``)."""
    conns = connections_of(request)
    require_service(conns.d)
    rc = await conns.authenticate(credentials_from(request.headers, request.cookies, request.query_params))
    limit = files.max_file_size(conns.d) + 64 * 1024
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise AppError("api.user.upload_profile_user.too_large.app_error",
                       "Unable to upload profile image. File is too large.", 413)
    try:
        form = await request.form(max_files=1, max_fields=8)
    except Exception:
        raise AppError("api.user.upload_profile_user.parse.app_error", "Could not parse multipart form.",
                       400) from None
    part = form.get("image")
    if part is None or isinstance(part, str):
        raise AppError("api.user.upload_profile_user.no_file.app_error", "No file under 'image' in request.", 400)
    data = await part.read()
    await form.close()
    await do_set_remote_profile_image(conns.d, rc.remote_id, user_id, data)
    return HttpResponse(content=b'{"status":"OK"}', media_type="application/json")
