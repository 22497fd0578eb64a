"""The side-by-side table: each metric for Isthmus and for the Synapse peer measured in the same run.

Ratios are always "how many times better Isthmus is" (Synapse / Isthmus for times, Isthmus / Synapse
for rates), so a ratio above 1 is better and the goal column reads the same way for every row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    metric: str
    isthmus: float | None
    synapse: float | None
    unit: str
    lower_is_better: bool
    goal_ratio: float | None = None    # Isthmus must be at least this many times better than Synapse
    goal_abs: float | None = None      # and/or within this absolute bound (<= if lower is better, else >=)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        a, s = self.isthmus, self.synapse
        if a is None or s is None or a < 0 or s < 0 or a == s == 0:
            return None
        if self.lower_is_better:
            return math.inf if a == 0 else s / a
        return math.inf if s == 0 else a / s

    @property
    def goal(self) -> str:
        parts = []
        if self.goal_ratio == 1:
            parts.append("<= Synapse" if self.lower_is_better else ">= Synapse")
        elif self.goal_ratio is not None:
            parts.append(f">= {self.goal_ratio:g}x")
        if self.goal_abs is not None:
            parts.append(f"{'<=' if self.lower_is_better else '>='} {self.goal_abs:g} {self.unit}")
        return " and ".join(parts)

    @property
    def met_ratio(self) -> bool | None:
        """None when there is no ratio goal or no peer figure to compare with."""
        if self.goal_ratio is None or self.synapse is None:
            return None
        r = self.ratio
        return r is not None and r >= self.goal_ratio

    @property
    def met_abs(self) -> bool | None:
        if self.goal_abs is None:
            return None
        if self.isthmus is None:
            return False
        return self.isthmus <= self.goal_abs if self.lower_is_better else self.isthmus >= self.goal_abs

    @property
    def met(self) -> bool | None:
        checks = [m for m in (self.met_ratio, self.met_abs) if m is not None]
        if not checks:  # no goal, or only a ratio goal and no peer figure to compare with
            return None
        return all(checks) and self.isthmus is not None

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "n/a (no peer figure)" if self.goal_ratio is not None and self.synapse is None else ""
        if self.met:
            return "meets"
        missed = [name for name, m in (("ratio", self.met_ratio), ("absolute", self.met_abs)) if m is False]
        return f"MISSES {'+'.join(missed) or 'no figure'}"

    def to_obj(self) -> dict[str, Any]:
        r = self.ratio
        return {"metric": self.metric, "isthmus": self.isthmus, "synapse": self.synapse, "unit": self.unit,
                "ratio": None if r is None else (round(r, 2) if math.isfinite(r) else "inf"),
                "goal": self.goal, "met": self.met, "met_ratio": self.met_ratio, "met_absolute": self.met_abs,
                "note": self.note}


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def peak_rss(resources: Any) -> float | None:
    if not isinstance(resources, dict):
        return None
    values = [v.get("vmhwm_MiB") for v in resources.values() if isinstance(v, dict)]
    nums = [float(v) for v in values if isinstance(v, int | float) and v]
    return max(nums) if nums else None


def per_post_cpu(res: dict[str, Any], server: str, count_key: str) -> float | None:
    tp = res.get("throughput") or {}
    cpu, n = dig(tp, "cpu_s", server), tp.get(count_key)
    return round(cpu * 1000 / n, 2) if isinstance(cpu, int | float) and n else None


def build_rows(ist: dict[str, Any], syn: dict[str, Any] | None) -> list[Row]:
    s = syn or {}
    lat, slat = dig(ist, "latency", "A_to_B_visible") or {}, dig(s, "latency", "A_to_B_visible") or {}
    rows = [
        Row("propagation A->B p50", lat.get("p50_ms"), slat.get("p50_ms"), "ms", True, 4, 15),
        Row("propagation A->B p95", lat.get("p95_ms"), slat.get("p95_ms"), "ms", True),
        Row("propagation A->B p99", lat.get("p99_ms"), slat.get("p99_ms"), "ms", True, None, 50),
        Row("POST ack on A p50", dig(ist, "latency", "A_post_ack", "p50_ms"),
            dig(s, "latency", "A_send_ack", "p50_ms"), "ms", True),
        Row(f"throughput, visible on B ({dig(ist, 'throughput', 'messages')} vs "
            f"{dig(s, 'throughput', 'messages')} posts)", dig(ist, "throughput", "B_posts_per_s"),
            dig(s, "throughput", "B_msgs_per_s"), "posts/s", False, 30, 1000),
        Row("throughput, accepted on A", dig(ist, "throughput", "A_accept_posts_per_s"),
            dig(s, "throughput", "A_accept_msgs_per_s"), "posts/s", False),
        Row("CPU per post on A (throughput)", per_post_cpu(ist, "A", "messages"), per_post_cpu(s, "A", "messages"),
            "ms", True),
        Row("CPU per post on B (throughput)", per_post_cpu(ist, "B", "messages"), per_post_cpu(s, "B", "messages"),
            "ms", True),
        Row(f"catch-up {dig(ist, 'catchup', 'messages')} posts: all visible after B healthy",
            dig(ist, "catchup", "from_B_healthy", "all_visible_s"),
            dig(s, "catchup", "from_B_healthy", "all_visible_s"), "s", True, 10, 2),
        Row("catch-up lost + duplicated", _sum(dig(ist, "catchup", "lost"), dig(ist, "catchup", "duplicated")),
            _missing(s), "posts", True, None, 0,
            note="Synapse: posts not visible on B at the end"),
    ]
    if ist.get("backlog"):
        rows.append(Row(f"backlog {dig(ist, 'backlog', 'messages')} posts: all visible after B healthy",
                        dig(ist, "backlog", "from_B_healthy", "all_visible_s"), None, "s", True, None, 60))
        timed_out = dig(ist, "backlog", "timed_out") is True
        rows.append(Row("backlog lost + duplicated", _sum(dig(ist, "backlog", "lost"),
                                                          dig(ist, "backlog", "duplicated")), None, "posts", True,
                        None, 0, note="phase timed out: 'lost' = not visible yet" if timed_out else ""))
    rows += [
        Row("relay A->home->C p50", dig(ist, "relay", "A_to_C_via_home_B_visible", "p50_ms"), None, "ms", True,
            note="Synapse harness has no relay phase"),
        Row("relay A->home->C p99", dig(ist, "relay", "A_to_C_via_home_B_visible", "p99_ms"), None, "ms", True),
        Row("peak RSS per server (max VmHWM)", peak_rss(ist.get("resources")),
            peak_rss(s.get("resources")), "MiB", True, 1),
    ]
    return [r for r in rows if r.isthmus is not None or r.synapse is not None]  # phases not run: no row


def _sum(*values: Any) -> float | None:
    nums = [v for v in values if isinstance(v, int | float)]
    return float(sum(nums)) if len(nums) == len(values) else None


def _missing(syn: dict[str, Any]) -> float | None:
    cu = syn.get("catchup")
    if not isinstance(cu, dict) or not isinstance(cu.get("messages"), int):
        return None
    return float(cu["messages"] - int(cu.get("B_visible") or 0))


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf"
    return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"


def render(rows: list[Row]) -> str:
    header = ("metric", "Isthmus", "Synapse", "ratio", "goal", "")
    lines = [[r.metric + f" ({r.unit})", fmt(r.isthmus), fmt(r.synapse),
              "-" if r.ratio is None else f"{fmt(r.ratio)}x", r.goal,
              r.verdict] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=False)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False))]
    out.append("  ".join("-" * w for w in widths))
    for line in lines:
        out.append("  ".join((c.ljust(w) if i == 0 else c.rjust(w) if i < 4 else c.ljust(w))
                             for i, (c, w) in enumerate(zip(line, widths, strict=False))))
    return "\n".join(out)
