// Small DOM helpers shared by the pages.

// h("a", {href: "#/"}, "text", child): an element; attrs starting with "on" are listeners
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmtDuration(secs) {
  if (secs === null || secs === undefined || Number.isNaN(secs)) return "";
  const s = Math.max(0, Math.floor(secs));
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function fmtTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString();
}

export function toast(message, kind = "ok") {
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

// a modal yes/no question; resolves true on Confirm
export function confirmDialog(text, action = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// runs an action and says how it went; the button is disabled meanwhile
export async function act(button, fn, done) {
  if (button) button.disabled = true;
  try {
    const result = await fn();
    if (done) toast(done);
    return result;
  } catch (err) {
    toast(err.message || String(err), "error");
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// Any state string the API returns is shown: known ones get a colour and words
const STATES = {
  LIVE: ["live", "live"],
  RECORDING: ["recording", "live"],
  NOT_LIVE: ["offline", ""],
  OFFLINE: ["offline", ""],
  DISABLED: ["paused", "paused"],
  PAUSED: ["paused", "paused"],
  OUT_OF_SCHEDULE: ["out of schedule", "paused"],
  OUT_OF_SPACE: ["out of space", "error"],
  TEMPORAL_DISABLED: ["error", "error"],
  FATAL_ERROR: ["error", "error"],
  NOT_FOUND: ["error", "error"],
  ERROR: ["error", "error"],
  FATAL: ["error", "error"],
  CANCELLED: ["stopped", "paused"],
};
// states the workflow holds until the user acts (or a backoff ends): clear-error
export const CLEARABLE = new Set(["TEMPORAL_DISABLED", "FATAL_ERROR", "NOT_FOUND"]);

export function stateOf(streamer) {
  if (streamer.enabled === false) return { label: "paused", cls: "paused", key: "paused" };
  const known = STATES[streamer.state];
  const label = known ? known[0] : String(streamer.state || "unknown").toLowerCase().replace(/_/g, " ");
  if (streamer.last_error && !known?.[1]) return { label: "error", cls: "error", key: "error" };
  const cls = known ? known[1] : "";
  return { label, cls, key: cls === "live" ? "live" : cls || label };
}

// why the streamer is where it is: the workflow's reason, else the last check's error
export function reasonOf(streamer) {
  if (streamer.enabled === false) return "";
  return streamer.state_reason || streamer.last_error || "";
}

export function stateBadge(streamer) {
  const state = stateOf(streamer);
  const reason = reasonOf(streamer);
  return h("span", { class: `badge ${state.cls}`, dataset: { state: streamer.state }, title: reason || null }, state.label);
}

// The platform's picture over the initial, loaded without a Referer (some CDNs
// refuse other sites' pages); when it cannot be had, the initial shows
export function avatar(name, url) {
  const letter = (name || "?").trim().charAt(0).toUpperCase();
  const box = h("span", { class: "avatar", "aria-hidden": "true" }, letter);
  if (!url || !/^https?:\/\//i.test(url)) return box;
  const img = h("img", { src: url, alt: "", referrerpolicy: "no-referrer", loading: "lazy", decoding: "async" });
  img.addEventListener("error", () => img.remove(), { once: true });
  box.append(img);
  return box;
}

export function loading() {
  return h("p", { class: "muted" }, "Loading…");
}

// call fn at most once per `ms`, trailing
export function debounce(fn, ms = 300) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function progressBar(fraction) {
  const pct = Math.round(Math.max(0, Math.min(1, fraction || 0)) * 100);
  return h("div", { class: "progress", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 },
    h("span", { style: `width:${pct}%` }));
}
