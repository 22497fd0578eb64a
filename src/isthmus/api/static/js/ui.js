// Reusable widgets: modal dialogs (native <dialog>: the page behind is inert, Escape closes), confirm,
// menu buttons with arrow-key navigation, labelled form fields, copy buttons.

import { announce, h, icon } from "./dom.js";

let uid = 0;
export const nextId = (prefix = "id") => `${prefix}-${++uid}`;

export function openDialog({ title, body, actions = [], wide = false, onClose = null, describedBy = "" }) {
  const titleId = nextId("dlg-title");
  const opener = document.activeElement;
  const dialog = h("dialog", { class: `dialog ${wide ? "dialog-wide" : ""}`, "aria-labelledby": titleId,
    "aria-describedby": describedBy || undefined },
  h("div", { class: "dialog-head" },
    h("h2", { id: titleId }, title),
    h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: () => close() }, icon("close"))),
  h("div", { class: "dialog-body" }, body),
  actions.length ? h("div", { class: "dialog-actions" }, actions) : null);
  let closed = false;
  function close(result) {
    if (closed) return;
    closed = true;
    dialog.close();
    dialog.remove();
    if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
    if (onClose) onClose(result);
  }
  dialog.addEventListener("cancel", (ev) => { ev.preventDefault(); close(); });
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector("[autofocus]") ||
    dialog.querySelector(".dialog-body input, .dialog-body select, .dialog-body textarea, .dialog-body button");
  if (first) first.focus();
  return { el: dialog, close };
}

export function confirmDialog({ title, message, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const msgId = nextId("dlg-msg");
    const yes = h("button", { type: "button", class: danger ? "btn btn-danger" : "btn btn-primary",
      onclick: () => { answer = true; dlg.close(); } }, confirmLabel);
    const no = h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel");
    const dlg = openDialog({ title, body: h("p", { id: msgId }, message), actions: [no, yes], describedBy: msgId,
      onClose: () => resolve(answer) });
    no.focus(); // the safe choice has focus first
  });
}

// A field: <label for> + control + optional help and error text wired with aria-describedby.
export function field(label, control, { help = "", required = false } = {}) {
  const id = control.id || nextId("f");
  control.id = id;
  const helpId = help ? `${id}-help` : "";
  if (helpId) control.setAttribute("aria-describedby", helpId);
  if (required) control.required = true;
  const isCheck = control.type === "checkbox";
  // The asterisk is CSS-generated with empty alternative text: the name stays "Password", and
  // assistive technology learns "required" from the attribute instead.
  const lbl = h("label", { for: id, class: required ? "required" : undefined }, label);
  return h("div", { class: `field ${isCheck ? "field-check" : ""}` },
    isCheck ? [control, lbl] : [lbl, control],
    help ? h("p", { class: "help", id: helpId }, help) : null);
}

export function errorBox() {
  const box = h("div", { class: "error-box", role: "alert", hidden: true });
  return {
    el: box,
    show(message) {
      box.textContent = message;
      box.hidden = false;
    },
    clear() {
      box.textContent = "";
      box.hidden = true;
    },
  };
}

async function writeClipboard(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h("textarea", { class: "visually-hidden", readonly: true }, text);
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  }
}

export function copyButton(getText, label) {
  const btn = h("button", { type: "button", class: "btn btn-small", "aria-label": label }, icon("copy"), " Copy");
  btn.addEventListener("click", async () => {
    const ok = await writeClipboard(getText());
    btn.lastChild.textContent = ok ? " Copied" : " Copy failed";
    announce(ok ? "Copied to clipboard" : "Could not copy; select the text and copy it yourself");
    setTimeout(() => { btn.lastChild.textContent = " Copy"; }, 2000);
  });
  return btn;
}

// A button that opens a menu (role=menu): arrows move, Enter/Space activate, Escape or Tab closes.
export function menuButton(label, items, { iconName = "more", text = "" } = {}) {
  const menuId = nextId("menu");
  const button = h("button", { type: "button", class: text ? "btn" : "icon-button", "aria-haspopup": "menu",
    "aria-expanded": "false", "aria-controls": menuId, "aria-label": label, title: label },
  iconName ? icon(iconName) : null, text ? ` ${text}` : null);
  const menu = h("ul", { class: "menu", role: "menu", id: menuId, hidden: true, "aria-label": label });
  const wrap = h("div", { class: "menu-wrap" }, button, menu);
  function render() {
    menu.replaceChildren();
    for (const item of items().filter(Boolean)) {
      const li = h("li", { role: "none" },
        h("button", { type: "button", role: "menuitem", tabindex: "-1", class: item.danger ? "danger" : "",
          onclick: () => { close(true); item.action(); } }, item.label));
      menu.append(li);
    }
  }
  // Fixed position from the button's box, so no scrolling container (a table) can clip the menu.
  function place() {
    const r = button.getBoundingClientRect();
    const w = menu.offsetWidth;
    const hgt = menu.offsetHeight;
    const left = Math.max(8, Math.min(r.right - w, window.innerWidth - w - 8));
    const below = r.bottom + 4 + hgt <= window.innerHeight - 8;
    menu.style.left = `${left}px`;
    menu.style.top = `${below ? r.bottom + 4 : Math.max(8, r.top - 4 - hgt)}px`;
  }
  function open(focusLast = false) {
    render();
    menu.hidden = false;
    place();
    window.addEventListener("resize", onMove);
    window.addEventListener("scroll", onMove, true);
    button.setAttribute("aria-expanded", "true");
    const entries = [...menu.querySelectorAll("[role=menuitem]")];
    (focusLast ? entries[entries.length - 1] : entries[0])?.focus({ preventScroll: true });
    document.addEventListener("pointerdown", outside, true);
  }
  // Scrolling or resizing moves the menu with its button; it closes only when the button leaves the screen.
  function onMove(ev) {
    if (ev.type === "scroll" && menu.contains(ev.target)) return;
    const r = button.getBoundingClientRect();
    if (r.bottom < 0 || r.top > window.innerHeight || r.width === 0) close(false);
    else place();
  }
  function close(refocus) {
    window.removeEventListener("resize", onMove);
    window.removeEventListener("scroll", onMove, true);
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", outside, true);
    if (refocus) button.focus();
  }
  function outside(ev) { if (!wrap.contains(ev.target)) close(false); }
  button.addEventListener("click", () => (menu.hidden ? open() : close(true)));
  button.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") { ev.preventDefault(); open(ev.key === "ArrowUp"); }
  });
  menu.addEventListener("keydown", (ev) => {
    const entries = [...menu.querySelectorAll("[role=menuitem]")];
    const i = entries.indexOf(document.activeElement);
    const go = (k) => { ev.preventDefault(); entries[k].focus({ preventScroll: true }); };
    if (ev.key === "ArrowDown") go((i + 1) % entries.length);
    else if (ev.key === "ArrowUp") go((i - 1 + entries.length) % entries.length);
    else if (ev.key === "Home") go(0);
    else if (ev.key === "End") go(entries.length - 1);
    else if (ev.key === "Escape") { ev.preventDefault(); close(true); }
    else if (ev.key === "Tab") close(false);
  });
  return wrap;
}

// Tabs (role=tablist) with arrow-key switching; `tabs` = [{id, label, render(panel)}].
export function tabs(tabsDef, { label, selected = 0 } = {}) {
  const list = h("div", { role: "tablist", "aria-label": label, class: "tabs" });
  const panels = h("div", { class: "tab-panels" });
  const buttons = [];
  tabsDef.forEach((t, i) => {
    const tabId = `tab-${t.id}`;
    const panelId = `panel-${t.id}`;
    const btn = h("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId,
      onclick: () => select(i) }, t.label);
    const panel = h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, tabindex: "0", hidden: true });
    buttons.push(btn);
    list.append(btn);
    panels.append(panel);
  });
  function select(i, focus = false) {
    buttons.forEach((b, k) => {
      b.setAttribute("aria-selected", String(k === i));
      b.tabIndex = k === i ? 0 : -1;
      panels.children[k].hidden = k !== i;
    });
    tabsDef[i].render(panels.children[i]);
    if (focus) buttons[i].focus();
  }
  list.addEventListener("keydown", (ev) => {
    const i = buttons.indexOf(document.activeElement);
    if (ev.key === "ArrowRight") select((i + 1) % buttons.length, true);
    else if (ev.key === "ArrowLeft") select((i - 1 + buttons.length) % buttons.length, true);
  });
  select(selected);
  return { el: h("div", { class: "tabs-wrap" }, list, panels), select };
}

export function statusDot(kind, text) {
  return h("span", { class: `status status-${kind}` }, h("span", { class: "dot", "aria-hidden": "true" }), text);
}

// A short confirmation ("Settings saved.") that stays only until the person does something else: the
// next click, typing or change anywhere clears it, so it never describes an older action.
export function flashStatus(el, text) {
  el.textContent = text;
  el._clearFlash?.();
  const events = ["pointerdown", "keydown", "input", "change"];
  const clear = () => {
    el.textContent = "";
    for (const name of events) document.removeEventListener(name, clear, true);
    el._clearFlash = null;
  };
  // Listen from the next task on, so the action that showed it does not clear it at once.
  setTimeout(() => {
    if (el.textContent !== text) return;
    for (const name of events) document.addEventListener(name, clear, true);
    el._clearFlash = clear;
  }, 0);
}
