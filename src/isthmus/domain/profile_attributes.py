"""Custom profile attributes (Mattermost's CPA): up to 20 fields a system admin adds to every profile
(text, select, multiselect), and each user's values.

Local to this server: values are never sent to connected workspaces (a remote user's attributes stay on
their own server), in line with the per-connection profile field policy that sends no more than names.
"""

from __future__ import annotations

import re
from typing import Any

from isthmus.core.errors import AppError, forbidden
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor
from isthmus.domain.permissions import PERMISSION_MANAGE_SYSTEM
from isthmus.domain.roles import has_system_permission, require_system_permission
from isthmus.store.repo import profile_attributes as repo

GROUP_ID = "custom_profile_attributes"
MAX_FIELDS = 20
MAX_NAME = 255
MAX_TEXT_VALUE = 64
MAX_OPTIONS = 100
TYPES = ("text", "select", "multiselect")
VISIBILITIES = ("always", "hidden", "when_set")
VALUE_TYPES = ("", "email", "url", "phone")
_CHECKS = {"email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "url": re.compile(r"^https?://\S+$"),
           "phone": re.compile(r"^\+?[0-9 ()./-]{3,32}$")}


def _bad(field: str, detail: str) -> AppError:
    return AppError("app.custom_profile_attributes.invalid.app_error",
                    f"Invalid custom profile attribute: {field} {detail}.", 400, detailed_error=field)


def _not_found() -> AppError:
    return AppError("app.custom_profile_attributes.field_not_found.app_error",
                    "Unable to find the custom profile attribute.", 404)


def field_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "group_id": GROUP_ID, "name": row["name"], "type": row["type"],
            "attrs": row["attrs"], "target_id": "", "target_type": "user", "object_type": "user",
            "create_at": row["create_at"], "update_at": row["update_at"], "delete_at": row["delete_at"],
            "created_by": row["created_by"], "updated_by": row["updated_by"]}


def _attrs(kind: str, raw: Any, old: dict[str, Any], position: int) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _bad("attrs", "must be an object")
    attrs = {**old, **raw}
    attrs.setdefault("sort_order", position)
    attrs.setdefault("visibility", "when_set")
    attrs.setdefault("value_type", "")
    if not isinstance(attrs["sort_order"], (int, float)) or isinstance(attrs["sort_order"], bool):
        raise _bad("attrs.sort_order", "must be a number")
    if attrs["visibility"] not in VISIBILITIES:
        raise _bad("attrs.visibility", f"must be one of {', '.join(VISIBILITIES)}")
    if attrs["value_type"] not in VALUE_TYPES:
        raise _bad("attrs.value_type", "must be email, url, phone or empty")
    if kind == "text":
        attrs.pop("options", None)
        return attrs
    options = attrs.get("options") or []
    if not isinstance(options, list) or not options or len(options) > MAX_OPTIONS:
        raise _bad("attrs.options", f"must list 1 to {MAX_OPTIONS} choices for a {kind} field")
    names: set[str] = set()
    clean = []
    for opt in options:
        name = opt.get("name") if isinstance(opt, dict) else None
        if not isinstance(name, str) or not name.strip() or len(name) > 64 or name.strip().lower() in names:
            raise _bad("attrs.options", "need distinct names of 1 to 64 characters")
        names.add(name.strip().lower())
        oid = opt.get("id") if is_valid_id(opt.get("id")) else new_id()
        clean.append({"id": oid, "name": name.strip(), **({"color": opt["color"]} if isinstance(
            opt.get("color"), str) else {})})
    attrs["options"] = clean
    return attrs


async def list_fields(d: Domain) -> list[dict[str, Any]]:
    async with d.db.read() as conn:
        rows = await repo.select_fields(conn)
    rows.sort(key=lambda r: (r["attrs"].get("sort_order", 0), r["create_at"]))
    return [field_json(r) for r in rows]


async def do_create_field(d: Domain, actor: Actor, body: Any) -> dict[str, Any]:
    require_system_permission(d, actor, PERMISSION_MANAGE_SYSTEM)
    if not isinstance(body, dict):
        raise _bad("body", "must be an object")
    name, kind = body.get("name"), body.get("type")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise _bad("name", f"must be 1 to {MAX_NAME} characters")
    if kind not in TYPES:
        raise _bad("type", f"must be one of {', '.join(TYPES)}")
    now = d.now()
    async with transaction(d) as tx:
        live = await repo.select_fields(tx.conn)
        if len(live) >= MAX_FIELDS:
            raise AppError("app.custom_profile_attributes.limit_reached.app_error",
                           f"Profiles can have at most {MAX_FIELDS} custom attributes: delete one first.", 400)
        if any(f["name"].lower() == name.strip().lower() for f in live):
            raise _bad("name", "is already used by another attribute")
        row = {"id": new_id(), "name": name.strip(), "type": kind, "attrs": _attrs(kind, body.get("attrs"), {},
                                                                                    len(live)),
               "create_at": now, "update_at": now, "delete_at": 0, "created_by": actor.user_id,
               "updated_by": actor.user_id}
        await repo.insert_field(tx.conn, row)
        tx.emit(Event("custom_profile_attributes_field_created", {"field": field_json(row)}))
    return field_json(row)


async def do_patch_field(d: Domain, actor: Actor, field_id: str, body: Any) -> dict[str, Any]:
    require_system_permission(d, actor, PERMISSION_MANAGE_SYSTEM)
    if not isinstance(body, dict):
        raise _bad("body", "must be an object")
    async with transaction(d) as tx:
        row = await repo.select_field(tx.conn, field_id) if is_valid_id(field_id) else None
        if row is None or row["delete_at"]:
            raise _not_found()
        values: dict[str, Any] = {}
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
                raise _bad("name", f"must be 1 to {MAX_NAME} characters")
            if any(f["name"].lower() == name.strip().lower() and f["id"] != field_id
                   for f in await repo.select_fields(tx.conn)):
                raise _bad("name", "is already used by another attribute")
            values["name"] = name.strip()
        kind = body.get("type", row["type"])
        if kind not in TYPES:
            raise _bad("type", f"must be one of {', '.join(TYPES)}")
        if kind != row["type"]:
            values["type"] = kind
            await repo.delete_values_of_field(tx.conn, field_id)  # old values mean nothing in the new type
        if "attrs" in body or "type" in values:
            values["attrs"] = _attrs(kind, body.get("attrs"), row["attrs"], 0)
        values.update(update_at=max(d.now(), row["update_at"] + 1), updated_by=actor.user_id)
        await repo.update_field(tx.conn, field_id, values)
        out = field_json({**row, **values})
        tx.emit(Event("custom_profile_attributes_field_updated", {"field": out}))
    return out


async def do_delete_field(d: Domain, actor: Actor, field_id: str) -> None:
    require_system_permission(d, actor, PERMISSION_MANAGE_SYSTEM)
    async with transaction(d) as tx:
        row = await repo.select_field(tx.conn, field_id) if is_valid_id(field_id) else None
        if row is None or row["delete_at"]:
            raise _not_found()
        now = max(d.now(), row["update_at"] + 1)
        await repo.update_field(tx.conn, field_id, {"delete_at": now, "update_at": now})
        await repo.delete_values_of_field(tx.conn, field_id)
        tx.emit(Event("custom_profile_attributes_field_deleted", {"field_id": field_id}))


def _value(field: dict[str, Any], value: Any) -> Any:
    """The stored form of ``value``; None clears it."""
    if value in ("", None, []):
        return None
    if field["type"] == "text":
        if not isinstance(value, str) or len(value) > MAX_TEXT_VALUE:
            raise _bad(field["name"], f"must be text of at most {MAX_TEXT_VALUE} characters")
        check = _CHECKS.get(field["attrs"].get("value_type", ""))
        if check and not check.match(value.strip()):
            raise _bad(field["name"], f"must be a valid {field['attrs']['value_type']}")
        return value.strip()
    options = {o["id"] for o in field["attrs"].get("options", [])}
    chosen = value if field["type"] == "multiselect" else [value]
    if not isinstance(chosen, list) or not all(isinstance(v, str) and v in options for v in chosen):
        raise _bad(field["name"], "must name one of its options")
    return list(dict.fromkeys(chosen)) if field["type"] == "multiselect" else value


async def get_values(d: Domain, user_id: str) -> dict[str, Any]:
    async with d.db.read() as conn:
        return await repo.select_values(conn, user_id)


async def do_patch_values(d: Domain, actor: Actor, user_id: str, body: Any) -> dict[str, Any]:
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    if not isinstance(body, dict) or not body or len(body) > MAX_FIELDS:
        raise _bad("body", "must map attribute ids to values")
    now = d.now()
    async with transaction(d) as tx:
        fields = {f["id"]: f for f in await repo.select_fields(tx.conn)}
        clean = {}
        for field_id, value in body.items():
            if field_id not in fields:
                raise _not_found()
            clean[field_id] = _value(fields[field_id], value)
        for field_id, value in clean.items():
            if value is None:
                await repo.delete_value(tx.conn, field_id, user_id)
            else:
                await repo.upsert_value(tx.conn, field_id, user_id, value, now)
        values = await repo.select_values(tx.conn, user_id)
        tx.emit(Event("custom_profile_attributes_values_updated", {"user_id": user_id, "values": values}))
    return values
