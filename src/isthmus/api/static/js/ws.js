// The websocket event stream (/api/v4/websocket), as Mattermost's WebSocketClient does it: the
// upgrade carries the session cookie, the token is also offered by authentication_challenge, events
// are numbered 0,1,2… per connection, a gap or a silent server means reconnect, and reconnecting with
// the old connection_id and next sequence number lets the server replay what was missed. A new
// connection_id in `hello` means events were lost: listeners get "resync".

import { token } from "./api.js";

const PING_MS = 30000;
// While someone looks at the page a restarted server is noticed within a second; a hidden tab backs off
// further (no one is waiting) and reconnects at once when it is shown again.
const VISIBLE_MAX_MS = 1000;
const HIDDEN_MAX_MS = 30000;

export class EventSocket {
  constructor() {
    this.listeners = new Map();
    this.ws = null;
    this.seq = 1; // our action counter
    this.expected = 0; // next server event seq
    this.connectionId = "";
    this.retry = 0;
    this.closed = true;
    this.pingTimer = null;
    this.awaitingPong = false;
    this.connected = false;
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event).delete(fn);
  }

  emit(event, ...args) {
    for (const fn of this.listeners.get(event) || []) {
      try { fn(...args); } catch (err) { console.error("listener for", event, err); }
    }
    for (const fn of this.listeners.get("*") || []) fn(event, ...args);
  }

  open() {
    this.closed = false;
    this.onVisible = () => {
      if (document.visibilityState !== "visible" || this.closed || this.ws) return;
      clearTimeout(this.retryTimer);
      this.connect();
    };
    document.addEventListener("visibilitychange", this.onVisible);
    this.connect();
  }

  backoff() {
    const cap = document.visibilityState === "visible" ? VISIBLE_MAX_MS : HIDDEN_MAX_MS;
    return Math.min(cap, 250 * 2 ** (this.retry - 1)) * (0.5 + Math.random() / 2);
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    document.removeEventListener("visibilitychange", this.onVisible);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams();
    if (this.connectionId) {
      params.set("connection_id", this.connectionId);
      params.set("sequence_number", String(this.expected));
    }
    const ws = new WebSocket(`${scheme}://${location.host}/api/v4/websocket?${params}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const t = token.get();
      if (t) this.send("authentication_challenge", { token: t });
      clearInterval(this.pingTimer);
      this.awaitingPong = false;
      this.ping(); // a resumed connection gets no hello: the pong tells us it is up
      this.pingTimer = setInterval(() => this.ping(), PING_MS);
    });
    ws.addEventListener("message", (ev) => this.onMessage(ev));
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      clearInterval(this.pingTimer);
      this.ws = null;
      if (this.connected) {
        this.connected = false;
        this.emit("connection", false);
      }
      if (this.closed) return;
      this.retry += 1;
      this.retryTimer = setTimeout(() => { if (!this.closed) this.connect(); }, this.backoff());
    });
  }

  send(action, data = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ action, seq: this.seq++, data }));
  }

  ping() {
    if (this.awaitingPong) { // no answer to the last ping in 30 s: the link is dead
      this.ws?.close(4000);
      return;
    }
    this.awaitingPong = true;
    this.send("ping");
  }

  markConnected() {
    this.retry = 0;
    this.connected = true;
    this.emit("connection", true);
  }

  onMessage(ev) {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.seq_reply !== undefined) {
      this.awaitingPong = false;
      if (!this.connected && this.connectionId) this.markConnected();
      return;
    }
    if (typeof msg.seq === "number") {
      if (msg.event === "hello") {
        const fresh = msg.data.connection_id !== this.connectionId;
        const hadOne = Boolean(this.connectionId);
        this.connectionId = msg.data.connection_id;
        this.expected = msg.seq + 1;
        this.markConnected();
        if (fresh && hadOne) this.emit("resync");
        return;
      }
      if (msg.seq !== this.expected) { // a gap: reconnect and let the server replay or resync us
        this.ws?.close(4001);
        return;
      }
      this.expected = msg.seq + 1;
    }
    this.emit(msg.event, decode(msg.data || {}), msg.broadcast || {});
  }
}

// Mattermost sends nested objects as JSON strings (post, reaction, channel, user ids…).
function decode(data) {
  const out = { ...data };
  for (const key of ["post", "reaction", "acknowledgement", "channel", "mentions", "teammate_ids", "preferences"]) {
    if (typeof out[key] === "string") {
      try { out[key] = JSON.parse(out[key]); } catch { /* leave as sent */ }
    }
  }
  return out;
}
