"""Client-facing HTTP edge: Mattermost REST API v4 (and, later, the websocket and web app)."""
