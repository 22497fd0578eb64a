"""One module per noun; each exposes ``router``. Order matters only where paths overlap."""

from isthmus.api.routes import channels, posts, reactions, roles, system, teams, users

ROUTERS = [system.router, users.router, teams.router, channels.router, posts.router,
           reactions.router, roles.router]
