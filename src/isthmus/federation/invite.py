"""Filled in by the secure-connections work (issue 5)."""
