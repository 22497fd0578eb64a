// History-API routing: the server answers index.html for every non-API path, so deep links work.
//   /login
//   /console/connected-workspaces[/<remote_id>]
//   /<team name>[/channels/<channel name>|/messages/<channel id>]

const handlers = [];

export function route(pattern, handler) {
  handlers.push({ pattern, handler });
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else if (location.pathname !== path) history.pushState(null, "", path);
  dispatch();
}

export function dispatch() {
  const path = decodeURI(location.pathname);
  for (const { pattern, handler } of handlers) {
    const m = path.match(pattern);
    if (m) {
      handler(...m.slice(1));
      return;
    }
  }
}

export function start() {
  window.addEventListener("popstate", dispatch);
  // In-app links navigate without a page load; modified clicks keep the browser's behaviour.
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest && ev.target.closest("a[data-nav]");
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    navigate(a.getAttribute("href"));
  });
  dispatch();
}
