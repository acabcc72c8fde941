// The daemon's HTTP API: JSON requests with the bearer token, kept for this tab only.
// The token travels in the Authorization header and nowhere else (never in a URL).

const TOKEN_KEY = "agentloop.token";
const authListeners = new Set();

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

export class AuthRequired extends ApiError {
  constructor(message = "loopd wants a token") {
    super(401, message);
    this.name = "AuthRequired";
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the user is asked again after a reload
  }
}

export function setToken(token) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    /* see getToken */
  }
}

export function clearToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* see getToken */
  }
}

/** Call `listener()` whenever the daemon refuses our token; returns an unsubscribe. */
export function onAuthRequired(listener) {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

export function authFailed() {
  for (const listener of [...authListeners]) listener();
}

/** Request headers with the token (or `token`, when a candidate is being checked). */
export function authHeaders(extra = {}, token = getToken()) {
  const headers = new Headers(extra);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return headers;
}

/** A relative URL (so the page works under a path prefix) with query parameters. */
export function apiUrl(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function request(method, path, { query, token, signal, json } = {}) {
  const checking = token !== undefined;
  const extra = json === undefined ? {} : { "Content-Type": "application/json" };
  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      method,
      headers: authHeaders({ Accept: "application/json", ...extra }, checking ? token : getToken()),
      body: json === undefined ? undefined : JSON.stringify(json),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "loopd is not reachable");
  }
  if (response.status === 401) {
    if (!checking) authFailed();
    throw new AuthRequired();
  }
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (body && body.error) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, body);
  }
  return body;
}

const runPath = (id, rest = "") => `runs/${encodeURIComponent(id)}${rest}`;

export const api = {
  listRuns: (query, signal) => request("GET", "runs", { query, signal }),
  getRun: (id, signal) => request("GET", runPath(id), { signal }),
  getSteps: (id, signal) => request("GET", runPath(id, "/steps"), { signal }),
  getDiff: (id, signal) => request("GET", runPath(id, "/diff"), { signal }),
  control: (id, action) => request("POST", runPath(id, `/${action}`)),
  getNotes: (id, signal) => request("GET", runPath(id, "/notes"), { signal }),
  /** A note for the run's next agent step: {text, file?, line?} (SPEC 18). */
  addNote: (id, note) => request("POST", runPath(id, "/notes"), { json: { ...note, source: "web" } }),
  /** The run's plan now: {source, location, tasks: [{line, marker, text, ...}], ...}. */
  getPlan: (id, signal) => request("GET", runPath(id, "/plan"), { signal }),
  /** merge ({target?, strategy?}), scrap, or create-pr of a finished run (SPEC 8). */
  review: (id, action, json = {}) => request("POST", runPath(id, `/${action}`), { json }),
  /** The specs of the workspace `root` (an absolute path), each with its default plan. */
  listSpecs: (root, signal) => request("GET", "workspaces/specs", { query: { workspace_root: root }, signal }),
  /** POST /runs: {workspace_root, spec_path, plan_path?, name?, config_override?}. */
  createRun: (body) => request("POST", "runs", { json: body }),
  /** Resolves when `token` is accepted; AuthRequired when it is refused. */
  checkToken: (token) => request("GET", "runs", { query: { limit: 1 }, token }),
};
