"""Prometheus metrics of the shared-channel sync, per connection. One registry per Server (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, generate_latest


class SyncMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge("isthmus_sync_queue_depth", "Outbox changes not yet acknowledged by the remote.",
                                 ["remote_id"], registry=r)
        self.oldest_unsent_age = Gauge("isthmus_sync_oldest_unsent_age_seconds",
                                       "Age of the oldest change the remote has not acknowledged (0 when none).",
                                       ["remote_id"], registry=r)
        self.sends = Counter("isthmus_sync_sends", "Sync messages the remote acknowledged.", ["remote_id"],
                             registry=r)
        self.failures = Counter("isthmus_sync_failures", "Failed sync attempts (transport error or FAIL answer).",
                                ["remote_id"], registry=r)
        self.items_sent = Counter("isthmus_sync_items_sent", "Items delivered, by kind.", ["remote_id", "kind"],
                                  registry=r)
        self.items_received = Counter("isthmus_sync_items_received", "Items applied from a remote, by kind.",
                                      ["remote_id", "kind"], registry=r)
        self.items_refused = Counter("isthmus_sync_items_refused", "Inbound items refused (ownership, shape).",
                                     ["remote_id", "kind"], registry=r)
        self.items_not_delivered = Counter("isthmus_sync_items_not_delivered",
                                           "Items a remote did not accept (recorded in sync_refusals), by kind.",
                                           ["remote_id", "kind"], registry=r)
        self.last_error_at = Gauge("isthmus_sync_last_error_timestamp_seconds", "When the last failure happened.",
                                   ["remote_id"], registry=r)
        self.last_error = Info("isthmus_sync_last_error", "The last sync failure per remote.", ["remote_id"],
                               registry=r)
        # What the console needs to say whether a problem is over: an error older than the last success is
        # resolved; a refusal (shared channels off here) older than the last message we accepted is too.
        self.last_success_at = Gauge("isthmus_sync_last_success_timestamp_seconds",
                                     "When a sync pass to the remote last succeeded.", ["remote_id"], registry=r)
        self.refused_disabled_at = Gauge("isthmus_sync_refused_disabled_timestamp_seconds",
                                         "When the remote last sent sync while shared channels were off here.",
                                         ["remote_id"], registry=r)
        self.last_received_at = Gauge("isthmus_sync_last_received_timestamp_seconds",
                                      "When a sync message from the remote was last accepted.", ["remote_id"],
                                      registry=r)
        self.backoff = Gauge("isthmus_sync_backoff_seconds", "Current wait before the next attempt.",
                             ["remote_id"], registry=r)

        # A peer keeps one request in flight to us (one sender per workspace, even with several processes):
        # the high-water mark shows whether it did.
        self.inbound_in_flight = Gauge("isthmus_sync_inbound_in_flight",
                                       "Sync messages from the remote being handled now.", ["remote_id"], registry=r)
        self.inbound_in_flight_max = Gauge("isthmus_sync_inbound_in_flight_max",
                                           "Most sync messages from the remote handled at once since the start.",
                                           ["remote_id"], registry=r)
        self._in_flight_max: dict[str, int] = {}

    def observe_inbound(self, remote_id: str, in_flight: int) -> None:
        self.inbound_in_flight.labels(remote_id).set(in_flight)
        if in_flight > self._in_flight_max.get(remote_id, 0):
            self._in_flight_max[remote_id] = in_flight
            self.inbound_in_flight_max.labels(remote_id).set(in_flight)

    def record_failure(self, remote_id: str, error: str, now_ms: int) -> None:
        self.failures.labels(remote_id).inc()
        self.last_error_at.labels(remote_id).set(now_ms / 1000)
        self.last_error.labels(remote_id).info({"error": error[:300]})

    def record_success(self, remote_id: str, now_ms: int) -> None:
        self.last_success_at.labels(remote_id).set(now_ms / 1000)

    def set_queue(self, remote_id: str, depth: int, oldest_ms: int, now_ms: int) -> None:
        self.queue_depth.labels(remote_id).set(depth)
        self.oldest_unsent_age.labels(remote_id).set(max(0, now_ms - oldest_ms) / 1000 if depth else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
