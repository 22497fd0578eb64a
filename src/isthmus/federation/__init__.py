"""Connected workspaces: secure connections and shared-channel sync. Learns about local changes only
from core.events; never imported by the domain."""
