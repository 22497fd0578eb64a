// Server errors in words: what went wrong and what to do, never an error id or a raw database id.

const KNOWN = {
  "app.team.save.existing.app_error": "A team already uses that URL. Choose another team URL.",
  "model.team.is_valid.url.app_error":
    "The team URL must be 2 to 64 lowercase letters, digits or '-', starting with a letter.",
  "model.team.is_valid.reserved.app_error": "That team URL is reserved. Choose another one.",
  "model.team.is_valid.name.app_error": "Give the team a name (up to 64 characters).",
  "store.sql_channel.save_channel.exists.app_error": "A channel with that name already exists in this team.",
  "model.channel.is_valid.display_name.app_error": "Give the channel a name (up to 64 characters).",
  "app.user.save.username_exists.app_error": "That username is taken. Choose another one.",
  "app.user.save.email_exists.app_error": "An account with that email address already exists.",
  "app.team.join_user_to_team.max_accounts.app_error":
    "This team is full. A system admin can raise Maximum users per team.",
};

const RAW_ID = /\b[a-z0-9]{26}\b/g;

// `doing` completes "You are not allowed to …" (e.g. "create teams").
export function inWords(err, doing = "do that") {
  if (!err) return "";
  if (err.status === 0) return "The server could not be reached. Check that it is running, then try again.";
  if (KNOWN[err.id]) return KNOWN[err.id];
  if (err.status === 403) return `You are not allowed to ${doing}. Ask a system admin.`;
  if (err.status === 401 && err.id === "api.context.session_expired.app_error") return "Your session ended. Log in again.";
  if (err.status === 429) return "Too many requests. Wait a moment and try again.";
  if (err.status >= 500) return "The server ran into a problem. Try again; if it keeps happening, check the server's log.";
  return String(err.message || err).replace(RAW_ID, "this item");
}

export const scrubIds = (text, names = new Map()) =>
  String(text || "").replace(RAW_ID, (id) => names.get(id) || "another workspace");
