// Shared by the operator and trainee pages: the access token and JSON requests.
"use strict";

const Console = (() => {
  const token = new URLSearchParams(location.search).get("token") || "";

  /** The path with this page's token appended (for links and the WebSocket). */
  function withToken(path) {
    if (!token) return path;
    return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
  }

  /** POST a JSON body; resolves to {ok, status, body} whatever the answer. */
  async function post(path, body) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers["Authorization"] = "Bearer " + token;
    try {
      const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
      const answer = await response.json().catch(() => ({ reason: response.statusText }));
      return { ok: response.ok, status: response.status, body: answer };
    } catch (error) {
      return { ok: false, status: 0, body: { reason: "the console does not answer (" + error.message + ")" } };
    }
  }

  async function get(path) {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const response = await fetch(path, { headers });
    const answer = await response.json().catch(() => ({ reason: response.statusText }));
    return { ok: response.ok, status: response.status, body: answer };
  }

  return { token, withToken, post, get };
})();
