"""Several ``isthmus serve`` processes on one database: node registry, leases, cross-process bus.

SQLite stays single-process (``sqlite_guard``); on PostgreSQL every process registers itself in
``cluster_nodes`` (``nodes``), work that must run once per workspace runs only under a lease
(``leases``), and events reach every process through ``bus``. See ``README.md`` here.
"""
