"""Search (``mattermost-rest.md`` §3.4): posts per team or across teams, and file names.

The term syntax and the channel scope live in ``domain/search.py``. File search accepts a JSON
body or form fields, because mattermostautodriver's ``files.search_files`` sends ``data=``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from isthmus.api.auth import domain_of, require_actor
from isthmus.api.params import bad_body, json_object, valid_id
from isthmus.domain import search

router = APIRouter()


async def _body(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form = await request.form(max_files=0, max_fields=32)
        except Exception as err:  # Starlette raises its own parse errors for malformed forms
            raise bad_body(detail=str(err)) from None
        return {k: v for k, v in form.items() if isinstance(v, str)}
    return await json_object(request)


@router.post("/teams/{team_id}/posts/search")
async def search_team_posts(request: Request, team_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    req = search.check_request(await json_object(request))
    res = await search.search_posts(domain_of(request), actor, valid_id(team_id, "team_id"), req)
    return search.post_results_json(res)


@router.post("/posts/search")
async def search_all_posts(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    req = search.check_request(await json_object(request))
    return search.post_results_json(await search.search_posts(domain_of(request), actor, "", req))


@router.post("/teams/{team_id}/files/search")
async def search_team_files(request: Request, team_id: str) -> dict[str, Any]:
    actor = await require_actor(request)
    req = search.check_request(await _body(request))
    found = await search.search_files(domain_of(request), actor, valid_id(team_id, "team_id"), req)
    return search.file_results_json(found)


@router.post("/files/search")
async def search_all_files(request: Request) -> dict[str, Any]:
    actor = await require_actor(request)
    req = search.check_request(await _body(request))
    return search.file_results_json(await search.search_files(domain_of(request), actor, "", req))
