"""Applying what connected workspaces send: their posts, reactions, users, statuses and files, upserted by
global id through the same domain rules as local writes."""
