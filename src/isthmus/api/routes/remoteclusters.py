"""Secure connections admin REST (``mattermost-protocol.md`` §9) plus the server-to-server endpoints.

Every admin route needs ``manage_secure_connections`` and answers 501 while
``ConnectedWorkspacesSettings.EnableRemoteClusterService`` is off. Connections are always returned
sanitized (no tokens), PATCH included.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from isthmus.api.auth import require_actor
from isthmus.api.params import STATUS_OK, bool_param, json_object, paging, valid_id
from isthmus.core.errors import AppError
from isthmus.domain.remotes import authorize, remote_cluster_json
from isthmus.domain.sharing import refusals
from isthmus.federation import endpoints
from isthmus.federation.connections import Connections
from isthmus.store.repo.remotes import RemoteFilter

router = APIRouter()
router.include_router(endpoints.router)


def _conns(request: Request) -> Connections:
    return endpoints.connections_of(request)


def _id_param(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if value:
        valid_id(value, name)
    return value


@router.get("/remotecluster")
async def list_remote_clusters(request: Request) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    page, per_page = paging(request)
    topic = request.query_params.get("topic", "")
    if topic and (len(topic) > 64 or not topic.replace("_", "").replace("-", "").isalnum()):
        raise AppError("api.context.invalid_param.app_error", "Invalid topic parameter.", 400)
    f = RemoteFilter(
        exclude_offline=bool_param(request, "exclude_offline"), in_channel=_id_param(request, "in_channel"),
        not_in_channel=_id_param(request, "not_in_channel"), topic=topic,
        creator_id=_id_param(request, "creator_id"), only_confirmed=bool_param(request, "only_confirmed"),
        plugin_id=request.query_params.get("plugin_id", "")[:190],
        only_plugins=bool_param(request, "only_plugins"), exclude_plugins=bool_param(request, "exclude_plugins"),
        include_deleted=bool_param(request, "include_deleted"))
    conns = _conns(request)
    found = await conns.list_connections(actor, f, page=page, per_page=per_page)
    counts = await refusals.not_delivered_counts(conns.d, [rc.remote_id for rc in found])
    # Our extra field (the System Console's list): items each connection did not accept (details: GET by id).
    return [{**remote_cluster_json(rc), "isthmus_not_delivered": {"count": counts.get(rc.remote_id, 0)}}
            for rc in found]


@router.post("/remotecluster", status_code=201)
async def create_remote_cluster(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    conns = _conns(request)
    authorize(conns.d, actor)
    body = await json_object(request)
    rc, invite, generated = await conns.create(
        actor, name=body.get("name"), display_name=body.get("display_name"),
        default_team_id=body.get("default_team_id"), password=body.get("password"))
    out: dict[str, Any] = {"remote_cluster": remote_cluster_json(rc), "invite": invite}
    if generated is not None:
        out["password"] = generated
    return out


@router.post("/remotecluster/accept_invite", status_code=201)
async def accept_remote_cluster_invite(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    conns = _conns(request)
    authorize(conns.d, actor)
    body = await json_object(request)
    client = request.client.host if request.client else ""
    rc = await conns.accept(actor, name=body.get("name"), display_name=body.get("display_name"),
                            default_team_id=body.get("default_team_id"), invite=body.get("invite"),
                            password=body.get("password"), client_key=client)
    return remote_cluster_json(rc)


@router.post("/remotecluster/{remote_id}/generate_invite")
async def generate_remote_cluster_invite(remote_id: str, request: Request) -> JSONResponse:
    valid_id(remote_id, "remote_id")
    actor = await require_actor(request)
    conns = _conns(request)
    authorize(conns.d, actor)
    body = await json_object(request, allow_empty=True)
    code = await conns.generate_invite(actor, remote_id, body.get("password"))
    # Mattermost answers 201 with the bare invite as a JSON string.
    return JSONResponse(code, status_code=201)


@router.get("/remotecluster/{remote_id}")
async def get_remote_cluster(remote_id: str, request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    valid_id(remote_id, "remote_id")
    conns = _conns(request)
    rc = await conns.get(actor, remote_id)
    # Mattermost's fields unchanged, then ours: what never reached this workspace and the limits it announced.
    return {**remote_cluster_json(rc), **await refusals.refusal_summary(conns.d, rc.remote_id)}


@router.patch("/remotecluster/{remote_id}")
async def patch_remote_cluster(remote_id: str, request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    valid_id(remote_id, "remote_id")
    conns = _conns(request)
    authorize(conns.d, actor)
    body = await json_object(request)
    rc = await conns.patch(actor, remote_id, display_name=body.get("display_name"),
                           default_team_id=body.get("default_team_id"),
                           policy={k: v for k, v in body.items() if k.startswith("share_")})
    return remote_cluster_json(rc)


@router.delete("/remotecluster/{remote_id}")
async def delete_remote_cluster(remote_id: str, request: Request) -> dict[str, str]:
    valid_id(remote_id, "remote_id")
    actor = await require_actor(request)
    conns = _conns(request)
    if not await conns.delete(actor, remote_id):
        raise AppError("api.remote_cluster.get.not_found", "Remote cluster not found.", 404, f"id={remote_id}")
    return STATUS_OK
