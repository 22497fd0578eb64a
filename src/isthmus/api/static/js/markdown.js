// Message text as Mattermost shows it: its Markdown flavour (bold, italic, strike, inline and fenced code,
// quotes, lists, task lists, tables, headings, links, line breaks kept) plus @mentions and :emoji: shortcodes.
//
// Safe by construction: the vendored `marked` (static/vendor/marked, refreshed by scripts/refresh-vendor)
// only tokenizes, and this module builds DOM nodes from the tokens itself. No HTML string is ever parsed
// into the page: raw HTML in a message (a <script> tag…) becomes text, and only http(s)/mailto links
// become links. Local and remote people's posts go through the same function.

import { Lexer } from "../vendor/marked/marked.esm.js";
import { customEmoji } from "./custom_emoji.js";
import { h } from "./dom.js";

export const EMOJI = {
  "+1": "👍", thumbsup: "👍", "-1": "👎", thumbsdown: "👎", smile: "😄", smiley: "😃", grin: "😁",
  laughing: "😆", joy: "😂", wink: "😉", blush: "😊", slightly_smiling_face: "🙂", sunglasses: "😎",
  thinking: "🤔", thinking_face: "🤔", sweat_smile: "😅", cry: "😢", sob: "😭", heart: "❤️", tada: "🎉",
  partying_face: "🥳", eyes: "👀", white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️",
  rocket: "🚀", fire: "🔥", pray: "🙏", wave: "👋", clap: "👏", ok_hand: "👌", raised_hands: "🙌",
  muscle: "💪", point_up: "☝️", "100": "💯", star: "⭐", sparkles: "✨", coffee: "☕", bug: "🐛", memo: "📝",
  question: "❓", exclamation: "❗", bulb: "💡", calendar: "📆", lock: "🔒", link: "🔗",
};

const LEXER_OPTIONS = { gfm: true, breaks: true };
const SAFE_URL = /^(https?:|mailto:)/i;
// @name (Mattermost usernames: letters, digits, . _ -, remote ones end in :workspace) and :shortcode:.
const INLINE = /(^|[^\w@])@([a-z0-9][a-z0-9._-]*(?::[a-z0-9._-]+)?)|:([a-z0-9_+-]+):/gi;
const SPECIAL = new Set(["all", "channel", "here"]);
const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#39;": "'" };

const unescape = (text) => text.replace(/&(amp|lt|gt|quot|#39);/g, (m) => ENTITIES[m]);

export function renderMarkdown(message, { me = "" } = {}) {
  const out = document.createDocumentFragment();
  let tokens;
  try {
    tokens = new Lexer(LEXER_OPTIONS).lex(String(message || ""));
  } catch {
    out.append(String(message || "")); // never lose a message to the parser
    return out;
  }
  const ctx = { me: me.toLowerCase() };
  for (const t of tokens) append(out, block(t, ctx));
  return out;
}

function append(parent, node) {
  if (node === null || node === undefined) return;
  if (Array.isArray(node)) node.forEach((n) => append(parent, n));
  else parent.append(node);
}

function inlines(tokens, ctx, plain = false) {
  return (tokens || []).map((t) => inline(t, ctx, plain));
}

function block(t, ctx) {
  switch (t.type) {
    case "paragraph": return h("p", {}, inlines(t.tokens, ctx));
    case "heading": return h(`h${Math.min(6, Math.max(1, t.depth))}`, { class: "md-heading" }, inlines(t.tokens, ctx));
    case "code": return h("pre", { class: "md-code" }, h("code", { dataset: t.lang ? { lang: t.lang } : {} }, t.text));
    case "blockquote": return h("blockquote", {}, (t.tokens || []).map((x) => block(x, ctx)));
    case "list": {
      const attrs = t.ordered && t.start !== "" && t.start !== 1 ? { start: String(t.start) } : {};
      return h(t.ordered ? "ol" : "ul", attrs, t.items.map((item) => h("li", { class: item.task ? "md-task" : undefined },
        (item.tokens || []).map((x) => block(x, ctx)))));
    }
    case "checkbox": return h("input", { type: "checkbox", disabled: true, checked: Boolean(t.checked),
      "aria-label": t.checked ? "done" : "not done" });
    case "table": return h("div", { class: "md-table-wrap" }, h("table", { class: "md-table" },
      h("thead", {}, h("tr", {}, t.header.map((c) => cell("th", c, ctx)))),
      h("tbody", {}, t.rows.map((row) => h("tr", {}, row.map((c) => cell("td", c, ctx)))))));
    case "hr": return h("hr");
    case "space": return null;
    case "html": return h("p", {}, t.text); // shown as written, never interpreted
    case "text": return t.tokens ? inlines(t.tokens, ctx) : decorate(unescape(t.text), ctx);
    default: return t.tokens ? inlines(t.tokens, ctx) : t.raw ? document.createTextNode(t.raw) : null;
  }
}

function cell(tag, c, ctx) {
  const align = c.align === "center" || c.align === "right" ? { class: `md-align-${c.align}` } : {};
  return h(tag, tag === "th" ? { scope: "col", ...align } : align, inlines(c.tokens, ctx));
}

function inline(t, ctx, plain) {
  switch (t.type) {
    case "strong": return h("strong", {}, inlines(t.tokens, ctx, plain));
    case "em": return h("em", {}, inlines(t.tokens, ctx, plain));
    case "del": return h("del", {}, inlines(t.tokens, ctx, plain));
    case "codespan": return h("code", { class: "md-inline-code" }, t.escaped ? unescape(t.text) : t.text);
    case "br": return h("br");
    case "link": return link(t.href, t.title, t.tokens ? inlines(t.tokens, ctx, true) : t.text);
    case "image": return link(t.href, t.title, t.text || t.href); // no remote images pulled into the page
    case "html": return t.text;
    case "escape": return unescape(t.text);
    case "checkbox": return block(t, ctx);
    case "text": {
      if (t.tokens) return inlines(t.tokens, ctx, plain);
      const text = t.escaped ? unescape(t.text) : t.text;
      return plain ? text : decorate(text, ctx);
    }
    default: return t.tokens ? inlines(t.tokens, ctx, plain) : t.raw || "";
  }
}

function link(href, title, children) {
  const url = String(href || "").trim();
  if (!SAFE_URL.test(url)) return h("span", {}, children); // javascript:, data:… stay text
  return h("a", { href: url, title: title || undefined, target: "_blank", rel: "noopener noreferrer" }, children);
}

// Plain text with @mentions marked (the reader's own highlighted) and :shortcodes: as emoji: the built-in ones as
// characters, the others as this server's custom emoji image where it has one (custom_emoji.js), else as text.
function decorate(text, ctx) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m[2] !== undefined) {
      const start = m.index + m[1].length;
      const word = m[2].replace(/[._:-]+$/, ""); // "@bob." ends a sentence
      const name = word.toLowerCase();
      parts.push(text.slice(last, start));
      const mine = name === ctx.me || SPECIAL.has(name);
      parts.push(h("span", { class: mine ? "mention mention-me" : "mention" }, `@${word}`));
      last = start + 1 + word.length;
    } else {
      const emoji = EMOJI[m[3].toLowerCase()];
      if (!emoji && !/[a-z]/i.test(m[3])) continue; // ":30:" of "10:30:45" is a time, not an emoji
      parts.push(text.slice(last, m.index));
      parts.push(emoji ? h("span", { class: "emoji", role: "img", "aria-label": m[3].replace(/_/g, " "), title: `:${m[3]}:` }, emoji)
        : customEmoji(m[3]));
      last = m.index + m[0].length;
    }
  }
  parts.push(text.slice(last));
  return parts.filter((p) => p !== "");
}
