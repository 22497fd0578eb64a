// Data helpers of the Connected Workspaces console: connection status, teams, and the sync metrics
// (queue lag and last error per connection) that the server publishes at /metrics.

import { api } from "../api.js";

export const OFFLINE_AFTER_MS = 5 * 60 * 1000;

export function connectionStatus(rc, now = Date.now()) {
  if ((rc.site_url || "").startsWith("pending_")) return { kind: "pending", label: "Connection pending" };
  if (rc.last_ping_at && now - rc.last_ping_at < OFFLINE_AFTER_MS) return { kind: "online", label: "Connected" };
  return { kind: "offline", label: "Offline" };
}

export const inviteAccepted = (rc) => !(rc.site_url || "").startsWith("pending_");

let teamsPromise = null;
export function allTeams({ fresh = false } = {}) {
  if (!teamsPromise || fresh) {
    teamsPromise = api.get("/teams?per_page=200").catch(() => api.get("/users/me/teams"))
      .then((teams) => teams.filter((t) => !t.delete_at).sort((a, b) => a.display_name.localeCompare(b.display_name)));
  }
  return teamsPromise;
}

export function teamSelect(teams, selected = "") {
  const select = document.createElement("select");
  const placeholder = new Option("Select a team", "");
  placeholder.disabled = true;
  select.append(placeholder);
  for (const t of teams) select.append(new Option(t.display_name, t.id, false, t.id === selected));
  if (!selected) select.value = "";
  return select;
}

// The organization name becomes the connection's name: letters, digits, '.', '-', '_' (1–64).
export function slugName(displayName) {
  const slug = displayName.toLowerCase().normalize("NFKD").replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "").slice(0, 64);
  return slug || `workspace-${Date.now().toString(36)}`;
}

export function randomPassword(length = 16) {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

// Prometheus text → {remote_id: {lagSeconds, queue, lastError, lastErrorAt}}. Missing metrics (shared
// channels off, or an older server) give an empty object and the console shows "—".
export async function syncMetrics() {
  let text = "";
  try {
    const resp = await fetch("/metrics", { credentials: "same-origin" });
    if (!resp.ok) return {};
    text = await resp.text();
  } catch {
    return {};
  }
  const out = {};
  const line = /^(\w+)\{(.*)\}\s+(\S+)$/;
  const label = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split("\n")) {
    const m = raw.match(line);
    if (!m) continue;
    const labels = {};
    for (const l of m[2].matchAll(label)) labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
    const rid = labels.remote_id;
    if (!rid) continue;
    const entry = out[rid] || (out[rid] = {});
    const value = Number(m[3]);
    if (m[1] === "isthmus_sync_oldest_unsent_age_seconds") entry.lagSeconds = value;
    else if (m[1] === "isthmus_sync_queue_depth") entry.queue = value;
    else if (m[1] === "isthmus_sync_last_error_info") entry.lastError = labels.error || "";
    else if (m[1] === "isthmus_sync_last_error_timestamp_seconds") entry.lastErrorAt = value * 1000;
  }
  return out;
}

export function fmtLag(seconds) {
  if (seconds === undefined) return "—";
  if (seconds < 1) return "In sync";
  if (seconds < 60) return `${Math.round(seconds)} s behind`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min behind`;
  return `${Math.round(seconds / 3600)} h behind`;
}
