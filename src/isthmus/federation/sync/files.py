"""File attachments between servers (§6.4): push (sender) and the upload endpoint (receiver).

Files travel before the post that references them, each in two requests: the upload session
(``sharedchannel_upload`` over ``/msg``) and the raw bytes to ``/api/v4/remotecluster/upload/{id}``.
The receiver stores the file under the same id. A failed push fails the batch, so the post is never
delivered pointing at a file the peer does not have (Mattermost #36468); the retry pushes it again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response as HttpResponse

from isthmus.core.ids import new_id
from isthmus.domain import files
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import FileInfo
from isthmus.domain.remote_files import do_open_upload_session, do_receive_upload
from isthmus.domain.remotes import RemoteCluster, require_service
from isthmus.domain.shapes import file_info_json
from isthmus.federation.auth import credentials_from
from isthmus.federation.endpoints import connections_of
from isthmus.federation.sync.messages import TOPIC_UPLOAD, upload_session_obj
from isthmus.federation.transport import RemoteClient, TransportError, endpoint
from isthmus.federation.wire import Msg, go_json
from isthmus.store.repo import shared as repo

router = APIRouter()


async def on_upload_session(d: Domain, rc: RemoteCluster, payload: Any) -> dict[str, Any]:
    return await do_open_upload_session(d, rc.remote_id, payload)


async def push_file(d: Domain, client: RemoteClient, rc: RemoteCluster, info: FileInfo, uploader: str) -> None:
    session_id = new_id()
    session = upload_session_obj(session_id=session_id, create_at=d.now(), user_id=uploader,
                                 channel_id=info.channel_id, filename=info.name, file_size=info.size,
                                 remote_id=rc.remote_id, req_file_id=info.id)
    reply = await client.send_msg(rc.site_url, Msg.new(TOPIC_UPLOAD, session, d.now()), remote_id=rc.remote_id,
                                  token=rc.remote_token)
    if not reply.ok:
        raise TransportError(f"peer refused the upload of file {info.id}: {reply.err[:200]}", status=200)
    data = await files.blobs(d).read_bytes(info.path)
    await client.post_bytes(endpoint(rc.site_url, f"api/v4/remotecluster/upload/{session_id}"), data,
                            remote_id=rc.remote_id, token=rc.remote_token)
    async with transaction(d) as tx:
        await repo.upsert_attachment_sync(tx.conn, {"id": new_id(), "file_id": info.id, "remote_id": rc.remote_id,
                                                    "create_at": d.now(), "last_sync_at": info.update_at})


@router.post("/remotecluster/upload/{upload_id}")
async def upload_remote_data(upload_id: str, request: Request) -> HttpResponse:
    """Raw file bytes for an upload session opened by the same connection; 200 with the FileInfo."""
    conns = connections_of(request)
    require_service(conns.d)
    rc = await conns.authenticate(credentials_from(request.headers, request.cookies, request.query_params))
    info = await do_receive_upload(conns.d, rc.remote_id, upload_id, request.stream())
    return HttpResponse(content=go_json(file_info_json(info)), media_type="application/json")
