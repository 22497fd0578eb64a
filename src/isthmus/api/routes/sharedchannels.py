"""Shared channels REST (``mattermost-protocol.md`` §9), the file-upload endpoint peers call, and ``/metrics``.

Writes need ``manage_shared_channels`` and answer 501 while ``EnableSharedChannels`` (or the remote
cluster service) is off. ``GET /metrics`` (outside ``/api/v4``) serves the sync metrics in Prometheus'
text format, to system admins only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from isthmus.api.auth import domain_of, require_actor, resolve_user_id
from isthmus.api.params import STATUS_OK, bool_param, json_object, paging, valid_id
from isthmus.core.errors import AppError, forbidden
from isthmus.domain.remotes import remote_cluster_info_json
from isthmus.domain.roles import has_system_permission
from isthmus.domain.sharing import reads as share_reads
from isthmus.domain.sharing import refusals
from isthmus.domain.sharing.shares import require_shares, shared_channel_json, shared_channel_remote_json
from isthmus.federation.sync import files as sync_files
from isthmus.federation.sync.global_users import OFF_TEXT, global_sync_enabled
from isthmus.federation.sync.service import SharedChannels
from isthmus.federation.sync.verify import verify_channel

router = APIRouter()
router.include_router(sync_files.router)
metrics_router = APIRouter()


def _service(request: Request) -> SharedChannels:
    svc = getattr(request.app.state.server, "shared_channels", None)
    if not isinstance(svc, SharedChannels):
        raise AppError("api.shared_channel.service_not_enabled.app_error", "Shared Channels Service is not enabled.",
                       501)
    return svc


@router.post("/remotecluster/{remote_id}/channels/{channel_id}/invite")
async def invite_remote_to_channel(remote_id: str, channel_id: str, request: Request) -> dict[str, str]:
    valid_id(remote_id, "remote_id")
    valid_id(channel_id, "channel_id")
    actor = await require_actor(request)
    body = await json_object(request, allow_empty=True)
    readonly = body.get("readonly", body.get("read_only", False)) is True or bool_param(request, "readonly")
    await _service(request).share.invite(actor, channel_id, remote_id, readonly=readonly)
    return STATUS_OK


@router.post("/remotecluster/{remote_id}/channels/{channel_id}/uninvite")
async def uninvite_remote_from_channel(remote_id: str, channel_id: str, request: Request) -> Response:
    valid_id(remote_id, "remote_id")
    valid_id(channel_id, "channel_id")
    actor = await require_actor(request)
    if not await _service(request).share.uninvite(actor, channel_id, remote_id):
        return Response(status_code=204)  # not shared with that remote (Mattermost answers 204)
    return Response(content=b'{"status":"OK"}', media_type="application/json")


@router.get("/remotecluster/{remote_id}/sharedchannelremotes")
async def get_shared_channel_remotes_by_remote(remote_id: str, request: Request) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    page, per_page = paging(request)
    rows = await share_reads.list_remote_channels(
        domain_of(request), actor, remote_id, include_unconfirmed=bool_param(request, "include_unconfirmed"),
        exclude_confirmed=bool_param(request, "exclude_confirmed"), exclude_home=bool_param(request, "exclude_home"),
        exclude_remote=bool_param(request, "exclude_remote"), include_deleted=bool_param(request, "include_deleted"),
        page=page, per_page=per_page)
    return [shared_channel_remote_json(r) for r in rows]


@router.get("/sharedchannels/remote_info/{remote_id}")
async def get_remote_cluster_info(remote_id: str, request: Request) -> dict[str, Any]:
    valid_id(remote_id, "remote_id")
    actor = await require_actor(request)
    return remote_cluster_info_json(await share_reads.get_remote_info(domain_of(request), actor, remote_id))


@router.get("/sharedchannels/users/{user_id}/can_dm/{other_user_id}")
async def can_user_direct_message(user_id: str, other_user_id: str, request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    user_id = resolve_user_id(user_id, actor)
    allowed, why = await share_reads.can_dm(domain_of(request), actor, user_id, other_user_id)
    # ``isthmus_reason`` (our extension, absent when allowed) is what the web client shows by a disabled button.
    return {"can_dm": allowed, **({"isthmus_reason": why} if why else {})}


@router.get("/sharedchannels/{channel_id}/remotes")
async def get_shared_channel_remotes(channel_id: str, request: Request) -> list[dict[str, Any]]:
    valid_id(channel_id, "channel_id")
    actor = await require_actor(request)
    remotes = await share_reads.list_channel_remote_infos(domain_of(request), actor, channel_id)
    return [remote_cluster_info_json(rc) for rc in remotes]


@router.get("/sharedchannels/{channel_id}/verify")
async def verify_shared_channel(channel_id: str, request: Request) -> dict[str, Any]:
    """Our extension: compare this channel's snapshot with every connected peer's (``isthmus verify``)."""
    valid_id(channel_id, "channel_id")
    actor = await require_actor(request)
    svc = _service(request)
    return await verify_channel(svc.d, svc.conns.client, actor, channel_id)


@router.get("/sharedchannels/{channel_id}/limits")
async def get_shared_channel_limits(channel_id: str, request: Request) -> list[dict[str, Any]]:
    """Our extension: the workspaces this channel reaches directly and the limits each announced (``null`` when
    unknown), so a client can say before posting that a file will not reach one of them."""
    valid_id(channel_id, "channel_id")
    actor = await require_actor(request)
    return await refusals.channel_limits(domain_of(request), actor, channel_id)


@router.post("/sharedchannels/{channel_id}/verify/repair")
async def repair_shared_channel(channel_id: str, request: Request) -> dict[str, Any]:
    """Our extension: ``verify``, and where a peer differs each side re-sends the posts it owns."""
    valid_id(channel_id, "channel_id")
    actor = await require_actor(request)
    svc = _service(request)
    return await verify_channel(svc.d, svc.conns.client, actor, channel_id, repair=True)


@router.get("/sharedchannels/{team_id}")
async def get_shared_channels(team_id: str, request: Request) -> list[dict[str, Any]]:
    valid_id(team_id, "team_id")
    actor = await require_actor(request)
    page, per_page = paging(request)
    found = await share_reads.list_team_shares(domain_of(request), actor, team_id, page=page, per_page=per_page)
    return [shared_channel_json(s) for s in found]


@metrics_router.get("/metrics")
async def metrics(request: Request) -> Response:
    # System admins only: the figures name every connection and its last error, and a scrape reads the
    # database (see README "Metrics"). A Prometheus scraper uses an admin's personal access token.
    actor = await require_actor(request)
    if not has_system_permission(domain_of(request), actor, "manage_system"):
        raise forbidden("manage_system")
    svc = _service(request)
    await svc.outbound.refresh_metrics()
    return Response(content=svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


# Global user sync on demand (§8.3; our path, Mattermost has no REST call for it). POST starts a run (or finds the
# one going on) and answers its progress; GET answers the progress: users still to send, the cursor.
@router.post("/remotecluster/{remote_id}/sync_users")
async def start_global_user_sync(remote_id: str, request: Request) -> dict[str, Any]:
    return await _user_sync(remote_id, request, start=True)


@router.get("/remotecluster/{remote_id}/sync_users")
async def global_user_sync_progress(remote_id: str, request: Request) -> dict[str, Any]:
    return await _user_sync(remote_id, request, start=False)


async def _user_sync(remote_id: str, request: Request, *, start: bool) -> dict[str, Any]:
    valid_id(remote_id, "remote_id")
    actor = await require_actor(request)
    svc = _service(request)
    rc = await svc.conns.get(actor, remote_id)  # manage_secure_connections, 404 for an unknown id
    if start:
        require_shares(svc.d)
        if rc.delete_at or not rc.is_confirmed or rc.is_plugin:
            raise AppError("api.remote_cluster.sync_users.not_confirmed.app_error",
                           f"The connection to {rc.display_name or rc.name} is not established yet: accept the "
                           "invitation on the other workspace first.", 400)
        if not global_sync_enabled(svc.d):
            raise AppError("api.remote_cluster.sync_users.disabled.app_error", OFF_TEXT, 400)
        svc.sync_users_soon(rc.remote_id)
    return await svc.global_users.progress(rc)
