// Custom emoji (Mattermost's /emoji API) in messages and reactions. A :name: that is not one of the client's
// built-in emoji is looked up on this server; where it exists it is shown as its image
// (/api/v4/emoji/{id}/image), where it does not (say an emoji of a connected workspace that this one does not
// have) it stays ":name:" text, as the seed's FAQ says. Names met while a screen renders are gathered and asked
// in one POST /emoji/names (what Mattermost's web app does rather than one GET /emoji/name/{name} each), and the
// answer is kept for the session; an emoji created later arrives with the "emoji_added" websocket event.

import { api } from "./api.js";
import { h } from "./dom.js";

const known = new Map(); // name -> the emoji object, or null: this server has no such emoji
const waiting = new Map(); // name -> placeholders to swap for the image once the answer is in
let queued = false;
const MAX_NAMES = 200; // the server's limit per request

function image(emoji) {
  return h("img", { class: "emoji emoji-custom", src: `/api/v4/emoji/${encodeURIComponent(emoji.id)}/image`,
    alt: `:${emoji.name}:`, title: `:${emoji.name}:`, loading: "lazy", dataset: { emojiName: emoji.name } });
}

// The node for :name: (name as written): the image when known, else ":name:" text that becomes the image if the
// server has it.
export function customEmoji(name) {
  const key = name.toLowerCase();
  const found = known.get(key);
  if (found) return image(found);
  const text = h("span", { class: "emoji-text" }, `:${name}:`);
  if (found === null) return text;
  if (!waiting.has(key)) waiting.set(key, []);
  waiting.get(key).push(text);
  if (!queued) {
    queued = true;
    setTimeout(lookUp, 0);
  }
  return text;
}

export function rememberEmoji(emoji) {
  const e = typeof emoji === "string" ? JSON.parse(emoji) : emoji;
  if (!e?.name || !e?.id) return;
  known.set(e.name.toLowerCase(), e);
  settle(e.name.toLowerCase());
}

function settle(key) {
  const found = known.get(key);
  for (const el of waiting.get(key) || []) {
    if (found && el.isConnected) el.replaceWith(image(found));
  }
  waiting.delete(key);
}

async function lookUp() {
  queued = false;
  const names = [...waiting.keys()].filter((k) => !known.has(k));
  for (let i = 0; i < names.length; i += MAX_NAMES) {
    const batch = names.slice(i, i + MAX_NAMES);
    let found = [];
    try {
      found = await api.post("/emoji/names", batch);
    } catch {
      found = []; // custom emoji off, or the server away: the names stay text (looked up again next session)
    }
    for (const e of Array.isArray(found) ? found : []) known.set(e.name.toLowerCase(), e);
    for (const key of batch) {
      if (!known.has(key)) known.set(key, null);
      settle(key);
    }
  }
}
