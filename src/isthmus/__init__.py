"""Isthmus: a team-chat server that speaks Mattermost's API v4 and connects workspaces."""

__version__ = "0.1.0"
# Reported to clients as X-Version-Id / ClientConfig.Version; Mattermost clients parse the leading x.y.z.
SERVER_VERSION = "10.11.0"
