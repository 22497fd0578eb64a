// The REST client. Like Mattermost's own web app it authenticates with the MMAUTHTOKEN cookie set at
// login and proves every request came from this app with X-Requested-With (the server's CSRF check
// for cookie-authenticated writes). The session token from the login answer's Token header is kept
// in sessionStorage only for the websocket's authentication_challenge.

const BASE = "/api/v4";
const TOKEN_KEY = "isthmus.token";

export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && body.message) || `Request failed (${status})`;
    super(message);
    this.status = status;
    this.id = (body && body.id) || "";
    this.detail = (body && body.detailed_error) || "";
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY)),
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function headers(extra = {}) {
  return { "X-Requested-With": "XMLHttpRequest", Accept: "application/json", ...extra };
}

async function parse(resp) {
  const type = resp.headers.get("Content-Type") || "";
  if (resp.status === 204) return null;
  if (type.startsWith("application/json")) return resp.json();
  return resp.text();
}

export async function request(method, path, body, { raw = false, quiet401 = false } = {}) {
  const init = { method, headers: headers(), credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path.startsWith("/api/") ? path : BASE + path, init);
  } catch (err) {
    throw new ApiError(0, { message: "The server could not be reached. Check your connection." });
  }
  if (raw) return resp;
  const data = await parse(resp).catch(() => null);
  if (!resp.ok) {
    if (resp.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(resp.status, typeof data === "object" ? data : { message: String(data || "") });
  }
  return data;
}

export const api = {
  get: (path, opts) => request("GET", path, undefined, opts),
  post: (path, body, opts) => request("POST", path, body, opts),
  put: (path, body, opts) => request("PUT", path, body, opts),
  patch: (path, body, opts) => request("PATCH", path, body, opts),
  del: (path, opts) => request("DELETE", path, undefined, opts),
};

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export async function login(loginId, password) {
  const resp = await request("POST", "/users/login", { login_id: loginId, password }, { raw: true });
  const data = await parse(resp).catch(() => null);
  if (!resp.ok) throw new ApiError(resp.status, typeof data === "object" ? data : {});
  token.set(resp.headers.get("Token") || "");
  return data;
}

export async function logout() {
  try {
    await api.post("/users/logout", undefined, { quiet401: true });
  } finally {
    token.set("");
  }
}

// Upload through XMLHttpRequest because fetch() has no upload progress events.
// Resolves with the FileInfo; `onProgress(fraction)`; returns {promise, abort}.
export function uploadFile(channelId, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("channel_id", channelId);
    form.append("files", file, file.name);
    xhr.open("POST", `${BASE}/files?channel_id=${encodeURIComponent(channelId)}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded / ev.total);
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status === 201 && body && body.file_infos && body.file_infos.length) {
        onProgress(1);
        resolve(body.file_infos[0]);
      } else {
        reject(new ApiError(xhr.status, body || {}));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { message: "Upload failed: network error." })));
    xhr.addEventListener("abort", () => reject(new ApiError(0, { message: "Upload cancelled." })));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

export const fileUrl = (id, kind = "") => `${BASE}/files/${encodeURIComponent(id)}${kind ? `/${kind}` : ""}`;
