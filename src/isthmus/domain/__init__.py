"""The write path and guarded reads. Every change goes through a ``do_*`` here, in one transaction
that also records its events; nothing outside this package writes to the store."""
