// Client state shared by the views: who I am, my teams, channels and memberships, and a user cache.

import { api, ApiError } from "./api.js";

class Emitter {
  constructor() { this.map = new Map(); }
  on(name, fn) {
    if (!this.map.has(name)) this.map.set(name, new Set());
    this.map.get(name).add(fn);
    return () => this.map.get(name).delete(fn);
  }
  emit(name, ...args) { for (const fn of this.map.get(name) || []) fn(...args); }
}

export const events = new Emitter();

export const state = {
  me: null,
  permissions: new Set(),
  clientConfig: {},
  teams: [],
  teamId: "",
  channels: new Map(), // id -> Channel (current team's plus DMs/GMs)
  members: new Map(), // channel id -> my ChannelMember
  users: new Map(), // id -> User
  shares: new Map(), // channel id -> { share: SharedChannel|null, remotes: RemoteClusterInfo[]|null, error }
  // channel id -> ephemeral posts this session received (the server keeps none, so a view opened later shows them)
  ephemeral: new Map(),
};

export function reset() {
  state.me = null;
  state.permissions = new Set();
  state.teams = [];
  state.teamId = "";
  state.channels.clear();
  state.members.clear();
  state.users.clear();
  state.shares.clear();
  state.ephemeral.clear();
}

export const can = (permission) => state.permissions.has(permission);
export const isAdmin = () => (state.me?.roles || "").split(" ").includes("system_admin");
export const currentTeam = () => state.teams.find((t) => t.id === state.teamId) || null;

export async function bootstrap() {
  const [me, config] = await Promise.all([api.get("/users/me"), api.get("/config/client?format=old")]);
  state.me = me;
  state.users.set(me.id, me);
  state.clientConfig = config || {};
  try {
    const roles = await api.post("/roles/names", me.roles.split(" ").filter(Boolean));
    state.permissions = new Set(roles.flatMap((r) => r.permissions || []));
  } catch {
    state.permissions = new Set();
  }
  state.teams = (await api.get("/users/me/teams")).sort((a, b) => a.display_name.localeCompare(b.display_name));
}

export async function loadTeam(teamId) {
  state.teamId = teamId;
  const [channels, members] = await Promise.all([
    api.get(`/users/me/teams/${teamId}/channels`),
    api.get(`/users/me/teams/${teamId}/channels/members`),
  ]);
  state.channels.clear();
  state.members.clear();
  for (const c of channels) if (!c.delete_at) state.channels.set(c.id, c);
  for (const m of members) state.members.set(m.channel_id, m);
  const dmUsers = channels.filter((c) => c.type === "D").map((c) => otherDmUser(c)).filter(Boolean);
  await loadUsers(dmUsers);
  events.emit("channels");
}

export async function refreshChannel(channelId) {
  try {
    const [channel, member] = await Promise.all([
      api.get(`/channels/${channelId}`),
      api.get(`/channels/${channelId}/members/me`),
    ]);
    if (channel.team_id && channel.team_id !== state.teamId) return null;
    state.channels.set(channel.id, channel);
    state.members.set(channel.id, member);
    if (channel.type === "D") await loadUsers([otherDmUser(channel)]);
    invalidateShare(channel);
    events.emit("channels");
    return channel;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 404)) {
      state.channels.delete(channelId);
      state.members.delete(channelId);
      events.emit("channels");
      return null;
    }
    throw err;
  }
}

export function otherDmUser(channel) {
  const ids = channel.name.split("__");
  return ids.find((id) => id !== state.me.id) || ids[0];
}

let pending = new Set();
let waiters = [];
let timer = null;

// Batches the user look-ups of one render into a single POST /users/ids.
export function loadUsers(ids) {
  const missing = [...new Set(ids)].filter((id) => id && !state.users.has(id));
  if (!missing.length) return Promise.resolve();
  missing.forEach((id) => pending.add(id));
  return new Promise((resolve) => {
    waiters.push(resolve);
    clearTimeout(timer);
    timer = setTimeout(flushUsers, 0);
  });
}

async function flushUsers() {
  const ids = [...pending];
  const done = waiters;
  pending = new Set();
  waiters = [];
  try {
    const users = await api.post("/users/ids", ids);
    for (const u of users) state.users.set(u.id, u);
    events.emit("users", users);
  } catch (err) {
    console.warn("users/ids", err);
  } finally {
    done.forEach((fn) => fn());
  }
}

export function displayName(userId) {
  const u = state.users.get(userId);
  if (!u) return "Someone";
  return u.username;
}

export function fullName(user) {
  const name = [user.first_name, user.last_name].filter(Boolean).join(" ");
  return name || user.nickname || "";
}

export function channelLabel(channel) {
  if (channel.type === "D") {
    const other = state.users.get(otherDmUser(channel));
    return other ? other.username : "Direct message";
  }
  return channel.display_name || channel.name;
}

export function unreadCount(channel) {
  const m = state.members.get(channel.id);
  if (!m) return 0;
  return Math.max(0, (channel.total_msg_count || 0) - (m.msg_count || 0));
}

// Shared-channel details for a channel. The sharedchannels endpoints may be off (501) or missing (404)
// on an older server; the client then simply shows less. One request at a time per channel; the
// "share" event tells open views when fresh details arrived.
const inflight = new Map();

export function shareInfo(channel, { force = false } = {}) {
  if (!channel.shared) return Promise.resolve(null);
  if (!force && state.shares.has(channel.id)) return Promise.resolve(state.shares.get(channel.id));
  if (!force && inflight.has(channel.id)) return inflight.get(channel.id);
  const promise = fetchShareInfo(channel).then((info) => {
    if (inflight.get(channel.id) === promise) {
      inflight.delete(channel.id);
      state.shares.set(channel.id, info);
      events.emit("share", channel.id);
    }
    return info;
  });
  inflight.set(channel.id, promise);
  return promise;
}

// Forget what we know (the channel changed) and, for a shared channel, fetch it again.
export function invalidateShare(channel) {
  state.shares.delete(channel.id);
  inflight.delete(channel.id);
  if (channel.shared) shareInfo(channel);
}

async function fetchShareInfo(channel) {
  const info = { share: null, remotes: null, home: null, error: "" };
  const [shares, remotes] = await Promise.allSettled([
    channel.team_id ? api.get(`/sharedchannels/${channel.team_id}?per_page=200`) : Promise.resolve([]),
    api.get(`/sharedchannels/${channel.id}/remotes`),
  ]);
  if (shares.status === "fulfilled" && Array.isArray(shares.value)) {
    info.share = shares.value.find((s) => s.id === channel.id) || null;
  } else if (shares.status === "rejected") {
    info.error = shares.reason.message;
  }
  if (remotes.status === "fulfilled" && Array.isArray(remotes.value)) info.remotes = remotes.value;
  if (info.share && !info.share.home && info.share.remote_id) {
    try {
      info.home = await api.get(`/sharedchannels/remote_info/${info.share.remote_id}`);
    } catch { /* not fatal: the banner names no workspace */ }
  }
  return info;
}

export const isRemoteUser = (user) => Boolean(user && user.remote_id);
