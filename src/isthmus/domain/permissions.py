"""Built-in roles and their default permissions, after Mattermost's default scheme.

Permissions are plain strings; a role holds a set of them. Effective permissions in a channel are
the union of the caller's system roles, team roles and channel roles (as in Mattermost).
``manage_secure_connections`` and ``manage_shared_channels`` belong to system_admin by default and
can be granted to other roles with ``PATCH /roles/{id}/patch``.
"""

from __future__ import annotations

# Channel-scoped permissions a plain member holds.
_CHANNEL_USER = {
    "read_channel", "read_channel_content", "add_reaction", "remove_reaction", "upload_file",
    "create_post", "edit_post", "delete_post", "use_channel_mentions", "use_slash_commands",
    "manage_public_channel_members", "manage_private_channel_members",
    "manage_public_channel_properties", "manage_private_channel_properties",
    "delete_public_channel", "delete_private_channel", "get_public_link",
}
_CHANNEL_ADMIN = {"manage_channel_roles", "use_group_mentions", "remove_reaction"}
_TEAM_USER = {
    "view_team", "list_team_channels", "join_public_channels", "read_public_channel",
    "create_public_channel", "create_private_channel", "invite_user", "add_user_to_team",
}
_TEAM_ADMIN = {
    "manage_team", "remove_user_from_team", "manage_team_roles", "manage_public_channel_members",
    "manage_private_channel_members", "delete_public_channel", "delete_private_channel",
    "manage_channel_roles", "delete_others_posts", "edit_others_posts",
    "manage_public_channel_properties", "manage_private_channel_properties",
    "convert_public_channel_to_private", "convert_private_channel_to_public",
}
_SYSTEM_USER = {
    "create_team", "list_public_teams", "join_public_teams", "create_direct_channel",
    "create_group_channel", "view_members", "create_emojis", "delete_emojis",
    "list_users_without_team",
}
_SYSTEM_ADMIN_EXTRA = {
    "manage_system", "manage_roles", "edit_other_users", "manage_team", "list_private_teams",
    "join_private_teams", "read_other_users_teams", "sysconsole_read_environment",
    "sysconsole_write_environment", "manage_secure_connections", "manage_shared_channels",
    "create_user_access_token", "read_user_access_token", "revoke_user_access_token",
    "manage_others_bots", "create_bot", "manage_bots", "assign_bot", "get_logs",
    "manage_oauth", "manage_slash_commands", "manage_others_slash_commands",
    "manage_incoming_webhooks", "manage_outgoing_webhooks", "delete_others_posts",
    "edit_others_posts", "read_public_channel_groups", "read_private_channel_groups",
    "manage_system_wide_oauth", "read_deleted_posts", "read_jobs", "manage_jobs",
    "remove_others_reactions", "demote_to_guest", "promote_guest", "invite_guest",
    "create_post_ephemeral", "delete_others_emojis",
}
_GUEST = {"read_channel", "read_channel_content", "add_reaction", "remove_reaction", "upload_file",
          "create_post", "edit_post", "delete_post", "use_channel_mentions", "view_team",
          "create_direct_channel", "create_group_channel"}

ALL_PERMISSIONS: frozenset[str] = frozenset(
    _CHANNEL_USER | _CHANNEL_ADMIN | _TEAM_USER | _TEAM_ADMIN | _SYSTEM_USER | _SYSTEM_ADMIN_EXTRA
    | _GUEST
)

# name -> (display_name, description, permissions, scheme_managed)
DEFAULT_ROLES: dict[str, tuple[str, str, frozenset[str], bool]] = {
    "system_admin": ("authentication.roles.global_admin.name",
                     "authentication.roles.global_admin.description", ALL_PERMISSIONS, True),
    "system_user": ("authentication.roles.global_user.name",
                    "authentication.roles.global_user.description", frozenset(_SYSTEM_USER), True),
    "system_guest": ("authentication.roles.global_guest.name",
                     "authentication.roles.global_guest.description",
                     frozenset({"create_direct_channel", "create_group_channel"}), True),
    "team_admin": ("authentication.roles.team_admin.name",
                   "authentication.roles.team_admin.description",
                   frozenset(_TEAM_ADMIN | _TEAM_USER), True),
    "team_user": ("authentication.roles.team_user.name",
                  "authentication.roles.team_user.description", frozenset(_TEAM_USER), True),
    "team_guest": ("authentication.roles.team_guest.name",
                   "authentication.roles.team_guest.description", frozenset({"view_team"}), True),
    "channel_admin": ("authentication.roles.channel_admin.name",
                      "authentication.roles.channel_admin.description",
                      frozenset(_CHANNEL_ADMIN | _CHANNEL_USER), True),
    "channel_user": ("authentication.roles.channel_user.name",
                     "authentication.roles.channel_user.description", frozenset(_CHANNEL_USER), True),
    "channel_guest": ("authentication.roles.channel_guest.name",
                      "authentication.roles.channel_guest.description", frozenset(_GUEST), True),
    # Mattermost v11's "shared channel manager": shares channels without being a system admin. Assigned on top
    # of system_user with PUT /users/{id}/roles; it shares only channels its holder administers
    # (domain.shares.authorize_channel), and it sees the connections to choose from, never their secrets.
    "shared_channel_manager": ("authentication.roles.shared_channel_manager.name",
                               "authentication.roles.shared_channel_manager.description",
                               frozenset({"manage_shared_channels"}), False),
}

PERMISSION_MANAGE_SECURE_CONNECTIONS = "manage_secure_connections"
PERMISSION_MANAGE_SHARED_CHANNELS = "manage_shared_channels"
PERMISSION_MANAGE_SYSTEM = "manage_system"
