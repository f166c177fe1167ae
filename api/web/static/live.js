// Live events: the /api/ws/events socket, or polling when it cannot be had.
import { accessToken, loggedIn, refresh } from "./api.js";

const POLL_MS = 5000;
const handlers = new Set();
let socket = null;
let pollTimer = null;
let retryMs = 1000;
let retryTimer = null;
let statusEl = null;
export let mode = "off";

function setMode(next) {
  mode = next;
  if (!statusEl) statusEl = document.getElementById("live-status");
  if (!statusEl) return;
  statusEl.textContent = next === "live" ? "live" : next === "polling" ? "polling" : "offline";
  statusEl.className = `live-status ${next === "live" ? "on" : "off"}`;
  statusEl.dataset.mode = next;
}

function dispatch(event) {
  for (const fn of handlers) {
    try {
      fn(event);
    } catch (err) {
      console.error(err);
    }
  }
}

// while the socket is down the pages refetch what they show every few seconds
function startPolling() {
  if (pollTimer) return;
  setMode("polling");
  pollTimer = setInterval(() => dispatch({ type: "poll" }), POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

export function subscribe(fn) {
  handlers.add(fn);
  return () => handlers.delete(fn);
}

export function connect() {
  if (socket || !loggedIn() || localStorage.getItem("srec.noWebSocket")) {
    if (!socket && loggedIn()) startPolling();
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/ws/events`);
  socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ token: accessToken() }));
  ws.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "hello") {
      retryMs = 1000;
      stopPolling();
      setMode("live");
      // what changed while the socket was down: the pages reload once
      dispatch({ type: "poll" });
      return;
    }
    dispatch(event);
  };
  ws.onclose = async (close) => {
    if (socket !== ws) return;
    socket = null;
    if (!loggedIn()) return setMode("off");
    startPolling();
    if (close.code === 4401) await refresh().catch(() => {});
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 30000);
  };
}

export function disconnect() {
  stopPolling();
  clearTimeout(retryTimer);
  const ws = socket;
  socket = null;
  if (ws) ws.close();
  setMode("off");
}
