// Boot: find out whether the session cookie is still good, then show the login page, the chat or the
// System Console depending on the path.

import { ApiError, logout as apiLogout, setUnauthorizedHandler } from "./api.js";
import { ChatApp } from "./chat/app.js";
import { ConsoleApp } from "./console/console.js";
import { SitePage } from "./console/site.js";
import { TeamPage, TeamsPage } from "./console/teams.js";
import { UsersPage } from "./console/users.js";
import { h, replace } from "./dom.js";
import { renderLogin } from "./login.js";
import { renderSignup } from "./signup.js";
import { dispatch, navigate, route, start } from "./router.js";
import { bootstrap, reset, state } from "./store.js";
import { EventSocket } from "./ws.js";

const root = document.getElementById("app");
let socket = null;
let chat = null;
let consoleApp = null;
let booted = null;

function teardown() {
  chat?.destroy();
  consoleApp?.destroy();
  socket?.close();
  chat = consoleApp = socket = null;
  booted = null;
  reset();
}

async function logout() {
  try { await apiLogout(); } catch { /* the cookie is cleared either way */ }
  teardown();
  navigate("/login", { replace: true });
}

// Signed in? Loads the user, teams and permissions once and opens the websocket.
function ensureSession() {
  if (!booted) {
    booted = bootstrap().then(() => {
      socket = new EventSocket();
      socket.open();
      socket.on("added_to_team", () => bootstrap().then(() => chat?.sidebar.render()));
      socket.on("leave_team", () => bootstrap().then(() => chat?.sidebar.render()));
      return true;
    }, (err) => {
      booted = null;
      if (err instanceof ApiError && err.status === 401) return false;
      throw err;
    });
  }
  return booted;
}

function toLogin() {
  const next = location.pathname + location.search;
  navigate(next && next !== "/" && next !== "/login" ? `/login?next=${encodeURIComponent(next)}` : "/login",
    { replace: true });
}

async function guarded(fn) {
  try {
    if (!(await ensureSession())) { toLogin(); return; }
    root.removeAttribute("aria-busy");
    await fn();
  } catch (err) {
    replace(root, h("main", { id: "main", class: "empty-state" }, h("h1", {}, "Something went wrong"),
      h("p", {}, err.message || String(err)),
      h("button", { type: "button", class: "btn btn-primary", onclick: () => location.reload() }, "Reload")));
  }
}

function showChat(teamName = "", channelName = "") {
  return guarded(async () => {
    if (consoleApp) { consoleApp.destroy(); consoleApp = null; }
    if (!chat) {
      chat = new ChatApp({ socket, navigate, logout });
      replace(root, chat.el);
    }
    await chat.showTeam(teamName, channelName);
  });
}

function showConsole(remoteId = "", page = null) {
  return guarded(async () => {
    if (chat) { chat.destroy(); chat = null; }
    if (!consoleApp) {
      consoleApp = new ConsoleApp({ navigate, logout });
      replace(root, consoleApp.el);
    }
    if (page) await page(consoleApp);
    else if (remoteId) await consoleApp.showDetail(remoteId);
    else await consoleApp.showList();
  });
}

const consolePage = (prefix, title, make) => () => showConsole("", (app) => app.showPage(prefix, title, make()));

async function showSignup() {
  root.removeAttribute("aria-busy");
  let signedIn = false;
  try { signedIn = await ensureSession(); } catch { signedIn = false; }
  if (chat) { chat.destroy(); chat = null; }
  if (consoleApp) { consoleApp.destroy(); consoleApp = null; }
  await renderSignup(root, { signedIn, onJoined: async (team) => {
    teardown(); // a new account or a new team: load the session afresh
    navigate(`/${encodeURIComponent(team.name)}/channels/town-square`, { replace: true });
  } });
}

setUnauthorizedHandler(() => {
  if (!state.me) return; // still booting: bootstrap reports it
  teardown();
  toLogin();
});

route(/^\/login\/?$/, async () => {
  root.removeAttribute("aria-busy");
  if (state.me) { navigate("/", { replace: true }); return; }
  renderLogin(root, () => {
    const next = new URLSearchParams(location.search).get("next") || "/";
    navigate(next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
  });
});
route(/^\/console\/connected-workspaces\/?$/, () => showConsole());
route(/^\/console\/connected-workspaces\/([A-Za-z0-9]+)\/?$/, (rid) => showConsole(rid));
route(/^\/console\/users\/?$/, consolePage("/console/users", "Users", () => new UsersPage()));
route(/^\/console\/teams\/?$/, consolePage("/console/teams", "Teams", () => new TeamsPage()));
route(/^\/console\/teams\/([A-Za-z0-9]+)\/?$/,
  (id) => consolePage("/console/teams", "Team", () => new TeamPage(id))());
route(/^\/console\/site\/?$/, consolePage("/console/site", "Site and sign-up", () => new SitePage()));
route(/^\/signup_user_complete\/?$/, () => showSignup());
route(/^\/console\/?$/, () => navigate("/console/connected-workspaces", { replace: true }));
route(/^\/([^/]+)\/channels\/([^/]+)\/?$/, (team, channel) => showChat(team, channel));
route(/^\/([^/]+)\/?$/, (team) => showChat(team));
route(/^\/$/, () => showChat());

start();
window.addEventListener("pageshow", (ev) => { if (ev.persisted) dispatch(); });
