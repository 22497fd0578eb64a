// The message box: Enter sends, Shift+Enter adds a line; files are uploaded as soon as they are picked
// (or dropped, or pasted) with a progress bar each, and attached to the message by their ids.

import { api, uploadFile } from "../api.js";
import { announce, fmtSize, h, icon } from "../dom.js";
import { nextId } from "../ui.js";
import { createPriorityPicker } from "./priority.js";

const MAX_FILES = 10;

export function createComposer({ channelId, rootId = "", label, onSent, sendTyping }) {
  const inputId = nextId("composer");
  const input = h("textarea", { id: inputId, class: "composer-input", rows: 1, placeholder: label,
    "aria-label": label, autocomplete: "off" });
  const fileInput = h("input", { type: "file", multiple: true, class: "visually-hidden", tabindex: "-1",
    "aria-hidden": "true" });
  const attach = h("button", { type: "button", class: "icon-button", "aria-label": "Attach files",
    title: "Attach files", onclick: () => fileInput.click() }, icon("attach"));
  const send = h("button", { type: "submit", class: "icon-button send", "aria-label": "Send", title: "Send" },
    icon("send"));
  const uploads = h("ul", { class: "uploads", "aria-label": "Attachments" });
  const error = h("p", { class: "composer-error", role: "alert", hidden: true });
  // Priority belongs to the first message of a thread only (the server refuses it on replies).
  const priority = rootId ? null : createPriorityPicker();
  const form = h("form", { class: "composer", "aria-label": label },
    priority?.summary, uploads, error, priority?.panel,
    h("div", { class: "composer-row" }, attach, priority?.toggle, input, send), fileInput);
  const pending = []; // {file, info, promise, abort, li}
  let limits = null; // Promise of the workspaces this channel reaches and their limits (asked once)

  // A file a workspace sharing this channel will not accept still posts, but the person learns it now,
  // naming the workspace (GET /sharedchannels/{id}/limits, our extension; nothing when not shared).
  function warnLimits(item) {
    limits = limits || api.get(`/sharedchannels/${channelId}/limits`).catch(() => []);
    limits.then((remotes) => {
      const notes = [];
      for (const rc of remotes || []) {
        const lim = rc.limits;
        if (!lim) continue;
        const who = rc.display_name || rc.name;
        if (!lim.enable_file_attachments) notes.push(`will not reach ${who} (it does not accept file attachments)`);
        else if (item.file.size > lim.max_file_size) notes.push(`will not reach ${who} (limit ${fmtSize(lim.max_file_size)})`);
      }
      if (!notes.length || !pending.includes(item)) return;
      const text = `${item.file.name} (${fmtSize(item.file.size)}) ${notes.join("; ")}`;
      item.li.after(h("li", { class: "upload-warning", role: "status" }, icon("file"), ` ${text}`));
      item.warning = item.li.nextSibling;
      announce(text);
    });
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  function addFiles(files) {
    showError("");
    for (const file of files) {
      if (pending.length >= MAX_FILES) {
        showError(`At most ${MAX_FILES} files per message.`);
        break;
      }
      const progress = h("progress", { max: 100, value: 0, "aria-label": `Uploading ${file.name}` });
      const status = h("span", { class: "upload-status" }, "0%");
      const item = { file, info: null };
      const remove = h("button", { type: "button", class: "icon-button", "aria-label": `Remove ${file.name}`,
        onclick: () => { item.abort(); drop(item); input.focus(); } }, icon("close"));
      const preview = file.type.startsWith("image/") ?
        h("img", { class: "upload-thumb", src: URL.createObjectURL(file), alt: "" }) : icon("file", "upload-thumb");
      item.li = h("li", { class: "upload" }, preview,
        h("span", { class: "file-name" }, file.name), h("span", { class: "file-size" }, fmtSize(file.size)),
        progress, status, remove);
      const job = uploadFile(channelId, file, (fraction) => {
        const pct = Math.round(fraction * 100);
        progress.value = pct;
        status.textContent = `${pct}%`;
      });
      item.abort = job.abort;
      item.promise = job.promise.then((info) => {
        item.info = info;
        status.textContent = "Ready";
        item.li.classList.add("upload-done");
        announce(`${file.name} uploaded`);
        return info;
      }, (err) => {
        if (pending.includes(item)) {
          drop(item);
          showError(`${file.name}: ${err.message}`);
        }
        return null;
      });
      pending.push(item);
      uploads.append(item.li);
      warnLimits(item);
    }
  }

  function drop(item) {
    const i = pending.indexOf(item);
    if (i >= 0) pending.splice(i, 1);
    const img = item.li.querySelector("img");
    if (img) URL.revokeObjectURL(img.src);
    item.li.remove();
    item.warning?.remove();
  }

  let lastTyping = 0;
  input.addEventListener("input", () => {
    autosize();
    const now = Date.now();
    if (sendTyping && now - lastTyping > 3000 && input.value) {
      lastTyping = now;
      sendTyping(channelId, rootId);
    }
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("paste", (ev) => {
    const files = [...(ev.clipboardData?.files || [])];
    if (files.length) { ev.preventDefault(); addFiles(files); }
  });
  form.addEventListener("dragover", (ev) => { ev.preventDefault(); form.classList.add("drag"); });
  form.addEventListener("dragleave", () => form.classList.remove("drag"));
  form.addEventListener("drop", (ev) => {
    ev.preventDefault();
    form.classList.remove("drag");
    addFiles([...(ev.dataTransfer?.files || [])]);
  });
  fileInput.addEventListener("change", () => {
    addFiles([...fileInput.files]);
    fileInput.value = "";
    input.focus();
  });

  let sending = false;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (sending) return;
    const message = input.value.trim();
    if (!message && !pending.length) return;
    sending = true;
    send.disabled = true;
    showError("");
    try {
      const infos = (await Promise.all(pending.map((p) => p.promise))).filter(Boolean);
      if (!message && !infos.length) return;
      const body = { channel_id: channelId, root_id: rootId, message, file_ids: infos.map((f) => f.id) };
      const meta = priority?.metadata();
      if (meta) body.metadata = { priority: meta };
      const post = await api.post("/posts", body);
      input.value = "";
      priority?.close();
      priority?.reset();
      autosize();
      [...pending].forEach(drop);
      onSent?.(post);
    } catch (err) {
      showError(err.message);
    } finally {
      sending = false;
      send.disabled = false;
      input.focus();
    }
  });

  return { el: form, focus: () => input.focus(), input };
}
