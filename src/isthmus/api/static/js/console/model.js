// Data helpers of the Connected Workspaces console: connection status, teams, and the sync metrics
// (queue lag and last error per connection) that the server publishes at /metrics.

import { api } from "../api.js";
import { fmtDateTime, fmtTime, h } from "../dom.js";

export const OFFLINE_AFTER_MS = 5 * 60 * 1000;

export function connectionStatus(rc, now = Date.now()) {
  if ((rc.site_url || "").startsWith("pending_")) {
    // invite_expires_at is ours (0 or absent from a server that does not say): 48 hours after the last code.
    if (rc.invite_expires_at && now > rc.invite_expires_at) {
      return { kind: "pending", label: "Invitation expired — regenerate it" };
    }
    return { kind: "pending", label: "Connection pending" };
  }
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
    else if (m[1] === "isthmus_sync_last_success_timestamp_seconds") entry.lastSuccessAt = value * 1000;
    else if (m[1] === "isthmus_sync_refused_disabled_timestamp_seconds") entry.refusedAt = value * 1000;
    else if (m[1] === "isthmus_sync_last_received_timestamp_seconds") entry.receivedAt = value * 1000;
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

const RAW_ID = /\b[a-z0-9]{26}\b/g;

// A connection's sync problem in words, naming the workspace (never its id) and saying what to do.
// Returns null when there is nothing to show; `resolvedAt` is set when a later success ended it.
//   m: the connection's metrics; sharedOn: whether shared channels are on here.
export function syncProblem(rc, m, { sharedOn = true } = {}) {
  const name = rc.display_name || rc.name;
  if (m.refusedAt && (!sharedOn || !(m.receivedAt >= m.refusedAt))) {
    const text = `${name} tried to share a channel, but shared channels are turned off here: turn on ` +
      "“Enable shared channels” in the Connected workspaces settings below.";
    return { text, at: m.refusedAt, resolvedAt: sharedOn && m.receivedAt >= m.refusedAt ? m.receivedAt : 0 };
  }
  if (!m.lastError) return null;
  return { text: describeError(m.lastError, rc), at: m.lastErrorAt || 0,
    resolvedAt: m.lastSuccessAt && m.lastErrorAt && m.lastSuccessAt >= m.lastErrorAt ? m.lastSuccessAt : 0 };
}

export function describeError(raw, rc) {
  const name = rc.display_name || rc.name;
  const site = inviteAccepted(rc) ? rc.site_url : "its address";
  if (/^cannot reach /.test(raw)) {
    return `${name} could not be reached at ${site}: check that it is running and that its Site URL is right. ` +
      "Sync retries on its own.";
  }
  if (/^timed out /.test(raw)) return `${name} did not answer in time (${site}). Sync retries on its own.`;
  const http = raw.match(/answered HTTP (\d+)/);
  if (http && (http[1] === "401" || http[1] === "403")) {
    return `${name} no longer accepts this connection: it may have been deleted there. Ask its admin, and create ` +
      "a new connection if needed.";
  }
  if (http) return `${name} answered with an error (HTTP ${http[1]}). Its server log says more. Sync retries on its own.`;
  return raw.replace(rc.remote_id, name).replace(RAW_ID, "a channel");
}

// "None", the problem, or "(resolved 16:02) the problem" once a later success ended it.
export function problemText(problem) {
  if (!problem) return "None";
  const title = problem.at ? `Since ${fmtDateTime(problem.at)}` : "";
  if (!problem.resolvedAt) return h("span", { class: "problem", title }, problem.text);
  return h("span", { class: "muted resolved", title },
    `(resolved ${fmtTime(problem.resolvedAt)}) `, problem.text);
}


export async function sharedChannelsOn() {
  try {
    const cfg = await api.get("/config/client?format=old");
    return cfg.EnableSharedChannels === "true" && cfg.EnableRemoteClusterService === "true";
  } catch {
    return true; // unknown: do not claim it is off
  }
}
