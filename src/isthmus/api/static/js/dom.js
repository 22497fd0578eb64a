// Small DOM helpers. Text always goes in as text nodes (never innerHTML), so nothing a user or a
// remote workspace typed can become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

const SVG = "http://www.w3.org/2000/svg";
const PATHS = {
  shared: "M7 7a3 3 0 1 1 0 6 3 3 0 0 1 0-6Zm10-4a3 3 0 1 1 0 6 3 3 0 0 1 0-6Zm0 12a3 3 0 1 1 0 6 3 3 0 0 1 0-6ZM9.6 " +
    "11.2l4.8-2.6.9 1.7-4.8 2.6zm0 1.6.9-1.7 4.8 2.6-.9 1.7z",
  lock: "M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V11a1 1 0 0 1 1-1Zm2 0h6V7a3 3 0 0 0-6 0Z",
  globe: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20Zm0 2c-1 0-2.4 2.6-2.7 7h5.4C14.4 6.6 13 4 12 4Zm-2.7 9c.3 4.4 1.7 7 " +
    "2.7 7s2.4-2.6 2.7-7Zm-2 0H4.1a8 8 0 0 0 5 6.4A16 16 0 0 1 7.3 13Zm9.4 0a16 16 0 0 1-1.8 6.4 8 8 0 0 0 5-6.4Zm3.2-2a8 8 " +
    "0 0 0-5-6.4 16 16 0 0 1 1.8 6.4Zm-12.6 0a16 16 0 0 1 1.8-6.4 8 8 0 0 0-5 6.4Z",
  at: "M12 2a10 10 0 0 1 10 10v1.5a3.5 3.5 0 0 1-6.3 2.1A5 5 0 1 1 17 12v1.5a1.5 1.5 0 0 0 3 0V12a8 8 0 1 0-3.1 6.3l1.2 " +
    "1.6A10 10 0 1 1 12 2Zm0 7a3 3 0 1 0 0 6 3 3 0 0 0 0-6Z",
  reply: "M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11Z",
  smile: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20Zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16Zm-3 5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 " +
    "1 0-3Zm6 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3Zm-7 5h8a4 4 0 0 1-8 0Z",
  edit: "M3 17.2V21h3.8L17.9 9.9l-3.8-3.8Zm17.7-10.1a1 1 0 0 0 0-1.4l-2.4-2.4a1 1 0 0 0-1.4 0l-1.8 1.8 3.8 3.8Z",
  trash: "M6 7h12l-1 14H7Zm3-4h6l1 2h4v2H4V5h4Z",
  attach: "M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 " +
    "0-8 0v12.5a5.5 5.5 0 0 0 11 0V6Z",
  send: "M2 21 23 12 2 3v7l15 2-15 2Z",
  search: "M15.5 14h-.8l-.3-.3A6.5 6.5 0 1 0 9.5 16a6.5 6.5 0 0 0 4.2-1.6l.3.3v.8l5 5 1.5-1.5Zm-6 0a4.5 4.5 0 1 1 0-9 " +
    "4.5 4.5 0 0 1 0 9Z",
  close: "M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12Z",
  more: "M12 8a2 2 0 1 1 0-4 2 2 0 0 1 0 4Zm0 6a2 2 0 1 1 0-4 2 2 0 0 1 0 4Zm0 6a2 2 0 1 1 0-4 2 2 0 0 1 0 4Z",
  menu: "M3 6h18v2H3Zm0 5h18v2H3Zm0 5h18v2H3Z",
  copy: "M16 1H4a2 2 0 0 0-2 2v14h2V3h12Zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2Zm0 " +
    "16H8V7h11Z",
  plus: "M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6Z",
  back: "M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20Z",
  alert: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20Zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16Zm-1 3h2v7h-2Zm0 9h2v2h-2Z",
  check: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4Z",
  file: "M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2Zm7 1.5V9h5.5Z",
};

// A decorative icon (aria-hidden): the control that holds it carries the accessible name.
export function icon(name, cls = "") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon ${cls}`.trim());
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[name] || PATHS.file);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

export function iconButton(name, label, onclick, attrs = {}) {
  return h("button", { type: "button", class: "icon-button", "aria-label": label, title: label, onclick, ...attrs },
    icon(name));
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });

export const fmtTime = (ms) => timeFmt.format(new Date(ms));
export const fmtDateTime = (ms) => (ms ? dateTimeFmt.format(new Date(ms)) : "Never");
export const fmtDay = (ms) => dayFmt.format(new Date(ms));

export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// Screen-reader announcements through the live regions of index.html.
export function announce(message, { assertive = false } = {}) {
  const region = document.getElementById(assertive ? "alerts" : "announcer");
  if (!region) return;
  region.textContent = "";
  // A separate task so that repeating the same text is announced again.
  setTimeout(() => { region.textContent = message; }, 30);
}

// Message text: line breaks kept, http(s) links made clickable; everything else stays plain text.
const LINK = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
export function richText(message) {
  const out = document.createDocumentFragment();
  const lines = String(message).split("\n");
  lines.forEach((line, i) => {
    if (i) out.append(h("br"));
    let last = 0;
    for (const m of line.matchAll(LINK)) {
      out.append(line.slice(last, m.index));
      out.append(h("a", { href: m[0], target: "_blank", rel: "noopener noreferrer" }, m[0]));
      last = m.index + m[0].length;
    }
    out.append(line.slice(last));
  });
  return out;
}

// Arrow-key navigation inside a list of focusable items (roving tabindex): one Tab stop per list.
export function rovingFocus(container, selector) {
  container.addEventListener("keydown", (ev) => {
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(ev.key)) return;
    const items = [...container.querySelectorAll(selector)].filter((el) => el.offsetParent !== null);
    if (!items.length) return;
    const i = items.indexOf(document.activeElement);
    if (i < 0 && !container.contains(document.activeElement)) return;
    let next = i;
    if (ev.key === "ArrowDown") next = Math.min(items.length - 1, i + 1);
    if (ev.key === "ArrowUp") next = Math.max(0, i - 1);
    if (ev.key === "Home") next = 0;
    if (ev.key === "End") next = items.length - 1;
    ev.preventDefault();
    items.forEach((el, k) => el.setAttribute("tabindex", k === next ? "0" : "-1"));
    items[next].focus();
  });
}

// After a list re-render: exactly one item is in the Tab order (the active one, else the first).
export function resetRoving(container, selector, activeSelector) {
  const items = [...container.querySelectorAll(selector)];
  const active = (activeSelector && container.querySelector(activeSelector)) || items[0];
  items.forEach((el) => el.setAttribute("tabindex", el === active ? "0" : "-1"));
}
