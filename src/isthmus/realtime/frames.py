"""Websocket wire format (``mattermost-rest.md`` §5): server events, action replies, errors.

A server event is ``{"event","data","broadcast","seq"}``. ``seq`` differs per connection, so an
event is serialised once into a *prefix* that ends right before the seq number, and each
connection only appends its number: fan-out to many sockets costs one ``json.dumps``.
"""

from __future__ import annotations

import json
from typing import Any

from isthmus.core.errors import AppError

# Mattermost's websocket event names (@mattermost/client ``WebSocketEvents``, minus the client
# actions). Bus events of any other kind are internal (e.g. for federation) and never reach sockets.
WEBSOCKET_EVENTS = frozenset("""
typing posted post_edited post_deleted post_unread post_revealed post_burned burn_on_read_all_revealed
channel_converted channel_created channel_deleted channel_restored channel_updated channel_member_updated
channel_scheme_updated direct_added group_added new_user added_to_team leave_team update_team delete_team
restore_team update_team_scheme user_added user_updated user_role_updated memberrole_updated user_removed
preference_changed preferences_changed preferences_deleted ephemeral_message status_change
reaction_added reaction_removed emoji_added multiple_channels_viewed channel_viewed plugin_statuses_changed
plugin_enabled plugin_disabled role_updated license_changed config_changed open_dialog guests_deactivated
user_activation_status_change received_group received_group_associated_to_team
received_group_not_associated_to_team received_group_associated_to_channel
received_group_not_associated_to_channel group_member_deleted group_member_add sidebar_category_created
sidebar_category_updated sidebar_category_deleted sidebar_category_order_updated property_field_created
property_field_updated property_field_deleted property_values_updated thread_updated thread_follow_changed
thread_read_changed draft_created draft_updated draft_deleted post_acknowledgement_added
post_acknowledgement_removed persistent_notification_triggered channel_bookmark_created
channel_bookmark_updated channel_bookmark_deleted channel_bookmark_sorted scheduled_post_created
scheduled_post_updated scheduled_post_deleted shared_channel_remote_updated file_download_rejected
file_upload_rejected show_toast custom_profile_attributes_field_created custom_profile_attributes_field_updated
custom_profile_attributes_field_deleted custom_profile_attributes_values_updated
""".split())


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def broadcast(*, user_id: str = "", channel_id: str = "", team_id: str = "",
              omit_users: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {"omit_users": {u: True for u in sorted(omit_users)} or None, "user_id": user_id,
            "channel_id": channel_id, "team_id": team_id, "connection_id": "", "omit_connection_id": ""}


def event_prefix(kind: str, data: dict[str, Any], bcast: dict[str, Any]) -> str:
    """Everything of the event frame up to (not including) the seq number; see ``with_seq``."""
    return f'{{"event":{dumps(kind)},"data":{dumps(data)},"broadcast":{dumps(bcast)},"seq":'


def with_seq(prefix: str, seq: int) -> str:
    return f"{prefix}{seq}}}"


def reply_ok(seq_reply: int, data: Any = None) -> str:
    out: dict[str, Any] = {"status": "OK", "seq_reply": seq_reply}
    if data is not None:
        out["data"] = data
    return dumps(out)


def reply_error(seq_reply: int, err: AppError, request_id: str = "") -> str:
    return dumps({"status": "FAIL", "seq_reply": seq_reply,
                  "error": {"id": err.id, "message": err.message, "detailed_error": err.detailed_error,
                            "request_id": request_id, "status_code": err.status_code}})
