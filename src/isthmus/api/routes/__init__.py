"""One module per noun; each exposes ``router``. Order matters only where paths overlap."""

from isthmus.api.routes import (
    channels,
    commands,
    files,
    posts,
    reactions,
    remoteclusters,
    roles,
    search,
    sharedchannels,
    statuses,
    system,
    teams,
    user_images,
    users,
    websocket,
)

# statuses before users: /users/status/ids must not be taken for /users/{user_id}/...
ROUTERS = [system.router, statuses.router, websocket.router, user_images.router, users.router, teams.router,
           channels.router, posts.router, reactions.router, roles.router, commands.router, remoteclusters.router,
           files.router, search.router, sharedchannels.router]
