"""One module per noun; each exposes ``router``. Order matters only where paths overlap."""

from isthmus.api.routes import (
    bookmarks,
    channels,
    commands,
    drafts,
    emoji,
    files,
    posts,
    preferences,
    profile_attributes,
    reactions,
    remoteclusters,
    roles,
    search,
    sharedchannels,
    sidebar,
    statuses,
    system,
    teams,
    user_images,
    user_threads,
    users,
    websocket,
)

# statuses before users: /users/status/ids must not be taken for /users/{user_id}/...
# Routes are matched by a linear scan, so the hottest ones come first: posts (clients, bots) and
# remoteclusters (/remotecluster/msg, every sync message); neither shares a path shape with an earlier router.
ROUTERS = [posts.router, remoteclusters.router, system.router, statuses.router, websocket.router,
           user_images.router, users.router, teams.router, channels.router, reactions.router, roles.router,
           commands.router, files.router, search.router, sharedchannels.router, preferences.router,
           sidebar.router, user_threads.router, drafts.router,
           bookmarks.router, profile_attributes.router, emoji.router]
