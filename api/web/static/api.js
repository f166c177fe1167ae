// The API client: tokens, refresh in the background, one retry after a 401.
const STORE = "srec.auth";
let tokens = JSON.parse(localStorage.getItem(STORE) || "null");
let refreshing = null;
let timer = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : describe(detail));
    this.status = status;
    this.detail = detail;
  }
}

// FastAPI's 422 bodies list problems with their location; say each one
function describe(detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg || d.message}`).join("; ");
  }
  return JSON.stringify(detail);
}

function expiry(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part)).exp * 1000;
  } catch {
    return 0;
  }
}

function save(next) {
  tokens = next;
  if (next) localStorage.setItem(STORE, JSON.stringify(next));
  else localStorage.removeItem(STORE);
  schedule();
  for (const fn of listeners) fn(!!next);
}

// refresh five minutes before the access token expires (at once if it already did)
function schedule() {
  clearTimeout(timer);
  if (!tokens) return;
  const wait = Math.max(expiry(tokens.access_token) - Date.now() - 5 * 60 * 1000, 0);
  timer = setTimeout(() => refresh().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
}

export function onAuthChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function loggedIn() {
  return !!tokens;
}

export function accessToken() {
  return tokens ? tokens.access_token : null;
}

export async function login(username, password) {
  const response = await fetch("/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.detail || response.statusText);
  save(body);
}

export function refresh() {
  if (!tokens) return Promise.reject(new ApiError(401, "not logged in"));
  // one refresh at a time: a rotated refresh token must not be presented twice
  refreshing ||= (async () => {
    try {
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
      });
      if (!response.ok) {
        save(null);
        throw new ApiError(401, "your session ended; log in again");
      }
      save(await response.json());
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function logout() {
  if (tokens) {
    await api("POST", "/api/auth/logout", { refresh_token: tokens.refresh_token }).catch(() => {});
  }
  save(null);
}

export async function api(method, path, body, { retried = false } = {}) {
  if (!tokens) throw new ApiError(401, "not logged in");
  const init = { method, headers: { authorization: `Bearer ${tokens.access_token}` } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && !retried) {
    await refresh();
    return api(method, path, body, { retried: true });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, (data && data.detail) || response.statusText);
    error.body = data;
    throw error;
  }
  return data;
}

export const get = (path) => api("GET", path);
schedule();
