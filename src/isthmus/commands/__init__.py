"""Slash commands: a registry of built-ins and connected-workspaces commands."""
