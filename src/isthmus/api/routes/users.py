"""Users, login/logout, sessions, access tokens and preferences (``mattermost-rest.md`` §3.1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from isthmus.api.auth import domain_of, require_actor, resolve_user_id, session_of
from isthmus.api.params import (
    STATUS_OK,
    bad_body,
    bool_param,
    int_param,
    json_object,
    json_string_list,
    opt_str,
    paging,
    valid_id,
)
from isthmus.core.errors import AppError, forbidden
from isthmus.domain import sessions, teams, users
from isthmus.domain.roles import has_system_permission
from isthmus.domain.shapes import session_json, user_json

router = APIRouter()


@router.post("/users/login")
async def login(request: Request) -> JSONResponse:
    # Only a JSON body: a form or text/plain post is what a cross-site page can send without asking
    # (login CSRF: signing the victim in as the attacker), and no real client sends one.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise bad_body(detail="send the login as application/json")
    body = await json_object(request)
    d = domain_of(request)
    client = request.client.host if request.client else ""
    user, session = await sessions.do_login(d, body.get("login_id"), body.get("password"),
                                            str(body.get("device_id") or ""), client_key=client)
    resp = JSONResponse(user_json(user), status_code=200, headers={"Token": session.token})
    max_age = max(1, (session.expires_at - session.create_at) // 1000)
    secure = d.config.ServiceSettings.SiteURL.startswith("https://")  # never send them in clear then
    resp.set_cookie("MMAUTHTOKEN", session.token, max_age=max_age, httponly=True, samesite="lax", secure=secure)
    resp.set_cookie("MMUSERID", user.id, max_age=max_age, samesite="lax", secure=secure)
    resp.set_cookie("MMCSRF", str(session.props.get("csrf", "")), max_age=max_age, samesite="lax", secure=secure)
    return resp


@router.post("/users/logout")
async def logout(request: Request) -> JSONResponse:
    token = request.cookies.get("MMAUTHTOKEN") or request.headers.get("authorization", "")
    resp = JSONResponse(STATUS_OK)
    if token:
        try:
            session = await session_of(request)
            await sessions.do_logout(domain_of(request), session)
        except AppError:
            pass  # logging out with a dead token still clears the cookies
    for name in ("MMAUTHTOKEN", "MMUSERID", "MMCSRF"):
        resp.delete_cookie(name)
    return resp


@router.post("/users", status_code=201)
async def create_user(request: Request) -> dict[str, Any]:
    d = domain_of(request)
    body = await json_object(request)
    actor = None
    if request.headers.get("authorization") or request.cookies.get("MMAUTHTOKEN"):
        actor = await require_actor(request)
    is_admin = actor is not None and has_system_permission(d, actor, "manage_system")
    # A team's invite link (?iid=) lets a new person sign up even on a closed server, as in Mattermost.
    invite_id = request.query_params.get("iid", "")
    team = await teams.get_team_by_invite(d, invite_id) if invite_id else None
    if not d.config.TeamSettings.EnableUserCreation and not is_admin:
        raise AppError("api.user.create_user.disabled.app_error", "User creation is disabled.", 403)
    if not d.config.TeamSettings.EnableOpenServer and not is_admin and team is None and await users.count_users(d) > 0:
        raise AppError("api.user.create_user.no_open_server", "This server does not allow open signups.", 403)
    fields = {k: body.get(k) for k in ("username", "email", "password", "nickname", "first_name",
                                       "last_name", "position", "locale", "props", "notify_props",
                                       "timezone")}
    user = await users.do_create_user(d, fields)
    if team is not None:
        await teams.do_join_by_invite(d, user.id, invite_id)
    return user_json(user)


@router.get("/users")
async def get_users(request: Request) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    page, per_page = paging(request)
    q = request.query_params
    filters: dict[str, Any] = {
        "in_team": q.get("in_team", ""), "not_in_team": q.get("not_in_team", ""),
        "in_channel": q.get("in_channel", ""), "not_in_channel": q.get("not_in_channel", ""),
        "without_team": bool_param(request, "without_team"), "role": q.get("role", ""),
    }
    for key in ("in_team", "not_in_team", "in_channel", "not_in_channel"):
        if filters[key]:
            valid_id(filters[key], key)
    if bool_param(request, "active"):
        filters["active"] = True
    elif bool_param(request, "inactive"):
        filters["active"] = False
    filters["sort_by_username"] = q.get("sort", "") != "create_at"
    found = await users.list_users_for(domain_of(request), actor, page=page, per_page=per_page, **filters)
    return [user_json(u, actor) for u in found]


@router.post("/users/ids")
async def get_users_by_ids(request: Request) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    ids = await json_string_list(request, "user_ids")
    since = int_param(request, "since", 0)
    found = await users.list_users_by_ids(domain_of(request), ids)
    return [user_json(u, actor) for u in found if u.update_at > since]


@router.post("/users/usernames")
async def get_users_by_usernames(request: Request) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    names = await json_string_list(request, "usernames")
    return [user_json(u, actor) for u in await users.list_users_by_usernames(domain_of(request), names)]


@router.post("/users/search")
async def search_users(request: Request) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    body = await json_object(request)
    term = opt_str(body, "term", 256)
    if term is None:
        raise bad_body("term")
    limit = body.get("limit", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise bad_body("limit")
    filters: dict[str, Any] = {"term": term.strip().lstrip("@")}
    for src, dst in (("team_id", "in_team"), ("not_in_team_id", "not_in_team"),
                     ("in_channel_id", "in_channel"), ("not_in_channel_id", "not_in_channel")):
        value = opt_str(body, src, 26)
        if value:
            filters[dst] = valid_id(value, src)
    if body.get("without_team") is True:
        filters["without_team"] = True
    if body.get("allow_inactive") is not True:
        filters["active"] = True
    found = await users.list_users_for(domain_of(request), actor, page=0, per_page=min(limit, 1000), **filters)
    return [user_json(u, actor) for u in found]


@router.get("/users/autocomplete")
async def autocomplete_users(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    name = request.query_params.get("name", "")
    limit = int_param(request, "limit", 100, minimum=1, maximum=1000)
    channel_id = request.query_params.get("channel_id", "")
    team_id = request.query_params.get("team_id", "")
    inside, outside = await users.autocomplete_users(
        domain_of(request), actor, term=name.lstrip("@"), limit=limit,
        team_id=valid_id(team_id, "team_id") if team_id else "",
        channel_id=valid_id(channel_id, "channel_id") if channel_id else "")
    out: dict[str, Any] = {"users": [user_json(u, actor) for u in inside]}
    if outside is not None:
        out["out_of_channel"] = [user_json(u, actor) for u in outside]
    return out


@router.get("/users/username/{username}")
async def get_user_by_username(request: Request, username: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return user_json(await users.get_user_by_username(domain_of(request), username), actor)


@router.get("/users/email/{email}")
async def get_user_by_email(request: Request, email: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return user_json(await users.get_user_by_email(domain_of(request), email), actor)


@router.get("/users/{user_id}")
async def get_user(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    uid = resolve_user_id(user_id, actor)
    return user_json(await users.get_user(domain_of(request), uid), actor)


async def _patch(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    user = await users.do_patch_user(domain_of(request), actor, uid, body)
    return user_json(user, actor)


@router.put("/users/{user_id}/patch")
async def patch_user(request: Request, user_id: str) -> dict[str, Any]:
    return await _patch(request, user_id)


@router.put("/users/{user_id}")
async def update_user(request: Request, user_id: str) -> dict[str, Any]:
    return await _patch(request, user_id)


@router.put("/users/{user_id}/active")
async def update_user_active(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    body = await json_object(request)
    active = body.get("active")
    if not isinstance(active, bool):
        raise bad_body("active")
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await users.do_set_active(domain_of(request), actor, uid, active)
    return STATUS_OK


@router.delete("/users/{user_id}")
async def deactivate_user(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await users.do_set_active(domain_of(request), actor, uid, False)
    return STATUS_OK


@router.put("/users/{user_id}/roles")
async def update_user_roles(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    body = await json_object(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await users.do_update_roles(domain_of(request), actor, uid, body.get("roles"))
    return STATUS_OK


@router.put("/users/{user_id}/password")
async def update_password(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    body = await json_object(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    current = body.get("current_password")
    if current is not None and not isinstance(current, str):
        raise bad_body("current_password")
    await users.do_update_password(domain_of(request), actor, uid, current, body.get("new_password"))
    return STATUS_OK


@router.get("/users/{user_id}/sessions")
async def get_sessions(request: Request, user_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    return [session_json(s) for s in await sessions.list_sessions(domain_of(request), actor, uid)]


@router.post("/users/{user_id}/sessions/revoke")
async def revoke_session(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    body = await json_object(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await sessions.do_revoke_session(domain_of(request), actor, uid, body.get("session_id"))
    return STATUS_OK


@router.post("/users/{user_id}/sessions/revoke/all")
async def revoke_all_sessions(request: Request, user_id: str) -> dict[str, str]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    await sessions.do_revoke_all_sessions(domain_of(request), actor, uid)
    return STATUS_OK


@router.get("/users/{user_id}/tokens")
async def list_access_tokens(request: Request, user_id: str) -> list[dict[str, Any]]:
    actor = await require_actor(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    page, per_page = paging(request)
    return await sessions.list_access_tokens(domain_of(request), actor, uid, page, per_page)


@router.get("/users/tokens/{token_id}")
async def get_access_token(request: Request, token_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    return await sessions.get_access_token(domain_of(request), actor, token_id)


@router.post("/users/tokens/{action}")
async def change_access_token(request: Request, action: str) -> dict[str, str]:
    actor = await require_actor(request)
    if action not in ("revoke", "disable", "enable"):
        raise AppError("api.context.404.app_error", "Sorry, we could not find the page.", 404)
    body = await json_object(request)
    await sessions.do_change_access_token(domain_of(request), actor, body.get("token_id"), action)
    return STATUS_OK


@router.post("/users/{user_id}/tokens")
async def create_access_token(request: Request, user_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    body = await json_object(request)
    uid = valid_id(resolve_user_id(user_id, actor), "user_id")
    if uid != actor.user_id and not has_system_permission(domain_of(request), actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    return await sessions.do_create_access_token(domain_of(request), actor, uid, body.get("description"))
