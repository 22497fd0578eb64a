"""Client push (websocket hub). Listens to core.events after commit; never imported by the domain."""
