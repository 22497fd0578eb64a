"""Persistence: tables, engine, repositories and migrations. Imports only isthmus.core."""
