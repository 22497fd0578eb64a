"""Roles and permission checks (system, team and channel scope).

All roles live in memory after ``load_roles`` (there are a handful); ``do_patch_role`` writes the
row and swaps the cache after commit, so a permission change takes effect on the next request.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from isthmus.core.errors import AppError, forbidden, invalid_param, not_found
from isthmus.core.events import Event
from isthmus.core.ids import new_id
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor, Role
from isthmus.domain.permissions import ALL_PERMISSIONS, DEFAULT_ROLES
from isthmus.domain.shapes import role_json
from isthmus.store.repo import roles as repo

_CACHE = "roles"


def _cache(d: Domain) -> dict[str, Role]:
    cached: dict[str, Role] = d.caches.setdefault(_CACHE, {})
    return cached


async def load_roles(d: Domain) -> None:
    """Seed missing built-in roles, then load every role into the cache."""
    async with transaction(d) as tx:
        existing = {r["name"] for r in await repo.select_all_roles(tx.conn)}
        now = d.now()
        for name, (display, desc, perms, scheme_managed) in DEFAULT_ROLES.items():
            if name in existing:
                continue
            await repo.insert_role(tx.conn, {
                "id": new_id(), "name": name, "display_name": display, "description": desc,
                "permissions": " ".join(sorted(perms)), "scheme_managed": scheme_managed,
                "built_in": True, "create_at": now, "update_at": now, "delete_at": 0,
            })
        rows = await repo.select_all_roles(tx.conn)
    d.caches[_CACHE] = {r["name"]: Role(**r) for r in rows}


def get_role_by_name(d: Domain, name: str) -> Role:
    role = _cache(d).get(name)
    if role is None:
        raise AppError("app.role.get_by_name.app_error", "Unable to get role.", 404, f"name={name}")
    return role


def get_role(d: Domain, role_id: str) -> Role:
    for role in _cache(d).values():
        if role.id == role_id:
            return role
    raise AppError("app.role.get.app_error", "Unable to get role.", 404, f"id={role_id}")


def list_roles_by_names(d: Domain, names: Iterable[str]) -> list[Role]:
    cache = _cache(d)
    return [cache[n] for n in names if n in cache]


def list_roles(d: Domain) -> list[Role]:
    return sorted(_cache(d).values(), key=lambda r: r.name)


def permissions_of(d: Domain, *role_strings: str) -> frozenset[str]:
    cache = _cache(d)
    perms: set[str] = set()
    for roles_str in role_strings:
        for name in roles_str.split():
            role = cache.get(name)
            if role is not None and role.delete_at == 0:
                perms |= role.permission_set
    return frozenset(perms)


def has_system_permission(d: Domain, actor: Actor, permission: str) -> bool:
    return permission in permissions_of(d, actor.roles)


def require_system_permission(d: Domain, actor: Actor, permission: str) -> None:
    if not has_system_permission(d, actor, permission):
        raise forbidden(permission)


async def do_patch_role(d: Domain, actor: Actor, role_id: str, permissions: list[str] | None) -> Role:
    require_system_permission(d, actor, "manage_roles")
    role = get_role(d, role_id)
    if permissions is None:
        return role
    unknown = sorted(set(permissions) - ALL_PERMISSIONS)
    if unknown:
        raise invalid_param("permissions", f"unknown permissions: {', '.join(unknown[:10])}")
    if role.name == "system_admin" and "manage_roles" not in permissions:
        # Refuse the one change that would lock every admin out of fixing it again.
        raise AppError("api.roles.patch_roles.not_allowed_permission.error",
                       "The system_admin role must keep manage_roles.", 400)
    values: dict[str, Any] = {"permissions": " ".join(sorted(set(permissions))), "update_at": d.now()}
    updated = dataclasses.replace(role, **values)
    async with transaction(d) as tx:
        if await repo.update_role(tx.conn, role.id, values) == 0:
            raise not_found("role", role_id)
        # Mattermost's websocket event; other serving processes reload their roles on it too.
        tx.emit(Event("role_updated", {"role": json.dumps(role_json(updated))}))
    _cache(d)[updated.name] = updated
    return updated
