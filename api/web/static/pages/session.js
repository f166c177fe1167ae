// One session: its segments (play any of them, danmaku overlaid) and its chat charts.
import { api, get } from "../api.js";
import { debounce, fmtBytes, fmtDuration, fmtTime, h, loading, progressBar, toast } from "../ui.js";
import { playSegment, stopPlayer } from "./player.js";

let id = null;
let head = null;
let list = null;
let stats = null;
let playerBox = null;

export function render(view, [sessionId]) {
  id = Number(sessionId);
  head = h("div", {}, loading());
  playerBox = h("section", { id: "player-box", "aria-label": "Player" });
  list = h("section", { id: "segments-box" });
  stats = h("section", { id: "danmu-stats" });
  view.append(head, playerBox, h("h2", {}, "Segments"), list, h("h2", {}, "Chat"), stats);
  load();
  drawStats();
}

export function leave() {
  stopPlayer();
}

const reload = debounce(load, 300);

export function onEvent(event) {
  if (event.type === "poll" || ((event.type === "segment" || event.type === "session") && (event.session_id === id || event.id === id))) reload();
}

async function load() {
  try {
    const [s, segs] = await Promise.all([get(`/api/sessions/${id}`), get(`/api/sessions/${id}/segments`)]);
    const streamer = await get(`/api/streamers/${s.streamer_id}`).catch(() => null);
    const size = s.end_time ? s.total_size_bytes : segs.items.reduce((n, x) => n + x.size_bytes, 0);
    head.replaceChildren(
      h("h1", {}, s.title || `Session ${s.id}`, " ", s.end_time ? null : h("span", { class: "badge live" }, "recording")),
      h("div", { class: "kv small" },
        h("span", { class: "muted" }, "Streamer"), streamer ? h("a", { href: `#/streamers/${s.streamer_id}` }, streamer.name) : h("span", {}, `#${s.streamer_id}`),
        h("span", { class: "muted" }, "Started"), h("span", {}, fmtTime(s.start_time)),
        h("span", { class: "muted" }, "Ended"), h("span", {}, s.end_time ? fmtTime(s.end_time) : "still live"),
        h("span", { class: "muted" }, "Size"), h("span", { id: "session-size" }, fmtBytes(size)),
        h("span", { class: "muted" }, "Media"), h("span", {}, fmtDuration(s.duration_secs))));
    drawSegments(segs.items);
  } catch (err) {
    head.replaceChildren(h("p", { class: "error-text" }, err.message));
  }
}

function drawSegments(items) {
  if (!items.length) {
    list.replaceChildren(h("p", { class: "muted" }, "No segments yet."));
    return;
  }
  list.replaceChildren(h("div", { class: "scroll" }, h("table", { id: "segments" },
    h("thead", {}, h("tr", {}, ["", "#", "file", "size", "length", "danmu", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, items.map((seg) => h("tr", { dataset: { index: seg.index } },
      h("td", { class: "thumb-cell" }),
      h("td", { class: "num" }, seg.index),
      h("td", { class: "small" }, seg.file_path.split("/").pop(), seg.completed_at ? null : h("span", { class: "badge live" }, "writing")),
      h("td", { class: "num" }, fmtBytes(seg.size_bytes)),
      h("td", { class: "num" }, fmtDuration(seg.duration_secs)),
      h("td", { class: "num" }, seg.danmu ? seg.danmu.message_count : ""),
      h("td", {}, h("button", { class: "ghost play", "aria-label": `Play segment ${seg.index}`, onclick: () => play(seg) }, "Play"))))))));
  thumbnails(items);
}

// a thumbnail the pipeline wrote beside a segment shows in its row
async function thumbnails(items) {
  for (const seg of items.filter((s) => s.completed_at)) {
    const tickets = await api("POST", `/api/sessions/${id}/segments/${seg.index}/media`).catch(() => null);
    const cell = list.querySelector(`tr[data-index="${seg.index}"] .thumb-cell`);
    if (tickets?.thumbnail_url && cell) cell.replaceChildren(h("img", { class: "thumb", src: tickets.thumbnail_url, alt: `segment ${seg.index}`, loading: "lazy" }));
  }
}

async function play(seg) {
  try {
    const tickets = await api("POST", `/api/sessions/${id}/segments/${seg.index}/media`);
    await playSegment(playerBox, tickets, `Segment ${seg.index}`);
  } catch (err) {
    toast(err.message, "error");
  }
}

async function drawStats() {
  let data;
  try {
    data = await get(`/api/sessions/${id}/danmu-statistics`);
  } catch (err) {
    stats.replaceChildren(h("p", { class: "muted" }, err.status === 404 ? "No chat was recorded for this session." : err.message));
    return;
  }
  const rate = h("div", { id: "rate-chart", "aria-label": "Messages over time" });
  stats.replaceChildren(
    h("p", {}, `${data.total} messages, ${data.unique_talkers} talkers, peak ${data.peak_per_minute.toFixed(1)}/min`,
      Object.keys(data.by_kind).length ? ` (${Object.entries(data.by_kind).map(([k, v]) => `${k} ${v}`).join(", ")})` : ""),
    h("h3", {}, "Messages over time"), rate,
    h("h3", {}, "Top talkers"), bars(data.top_talkers.map((t) => [t.user_name || t.user_id, t.messages])),
    h("h3", {}, "Top gifts"), data.top_gifts.length ? bars(data.top_gifts.map((g) => [`${g.name} ×${g.count}`, g.value, `${g.value} ${g.currency}`])) : h("p", { class: "muted" }, "No gifts."),
    h("h3", {}, "Top words"), bars(data.top_words.map((w) => [w.word, w.count])));
  const { default: uPlot } = await import("/static/vendor/uplot/uPlot.esm.js");
  const xs = data.rate.map((b) => b.start_secs / 60);
  const ys = data.rate.map((b) => (b.count * 60) / data.bucket_secs);
  const width = Math.max(Math.min(rate.clientWidth || 600, 1100), 280);
  new uPlot({
    width, height: 220,
    scales: { x: { time: false } },
    axes: [{ label: "minutes", stroke: "currentColor" }, { label: "per minute", stroke: "currentColor" }],
    series: [{}, { label: "messages/min", stroke: "#2563eb", fill: "#2563eb33" }],
  }, [xs, ys], rate);
}

function bars(rows) {
  if (!rows.length) return h("p", { class: "muted" }, "None.");
  const max = Math.max(...rows.map((r) => r[1]), 1);
  return h("div", { class: "bars" }, rows.slice(0, 10).map(([label, value, text]) => h("div", { class: "bar" },
    h("span", { title: label }, label), progressBar(value / max), h("span", { class: "num" }, text ?? value))));
}
