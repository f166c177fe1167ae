// Plays one segment: MP4/WebM directly, MPEG-TS and FLV through mpegts.js, with
// the danmaku of its XML file, or of the ASS a pipeline rendered, over the picture.
import { h } from "../ui.js";

let player = null;
let overlayTimer = null;

function loadMpegts() {
  if (window.mpegts) return Promise.resolve(window.mpegts);
  return new Promise((resolve, reject) => {
    const script = h("script", { src: "/static/vendor/mpegts/mpegts.js" });
    script.onload = () => resolve(window.mpegts);
    script.onerror = () => reject(new Error("could not load the MPEG-TS player"));
    document.head.append(script);
  });
}

export function stopPlayer() {
  clearInterval(overlayTimer);
  overlayTimer = null;
  if (player) {
    player.destroy();
    player = null;
  }
}

// <d p="time,mode,size,color,...">text</d>, as BililiveRecorder and srec write them
export function parseXml(text) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  return [...doc.querySelectorAll("d")].map((d) => {
    const p = (d.getAttribute("p") || "0").split(",");
    const color = Number(p[3] || 16777215).toString(16).padStart(6, "0");
    const mode = { 4: "bottom", 5: "top" }[p[1]] || "scroll";
    return { t: Number(p[0]) || 0, text: d.textContent, color: `#${color}`, mode };
  });
}

// "H:MM:SS.cc" -> seconds
function assTime(value) {
  const [h, m, sec] = value.trim().split(":");
  return Number(h) * 3600 + Number(m) * 60 + Number(sec);
}

// ASS `Dialogue:` lines (the danmaku step's output, or any ASS): the start, the
// text without override tags, the primary colour (&HBBGGRR&), and where it sits
// (\move scrolls, \an8 top, \an2 bottom)
export function parseAss(text) {
  let fields = ["layer", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text"];
  let events = false;
  const out = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      events = line.toLowerCase() === "[events]";
      continue;
    }
    if (!events) continue;
    if (/^format\s*:/i.test(line)) {
      fields = line.slice(line.indexOf(":") + 1).split(",").map((f) => f.trim().toLowerCase());
      continue;
    }
    if (!/^dialogue\s*:/i.test(line)) continue;
    const parts = line.slice(line.indexOf(":") + 1).split(",");
    // the text is the last field and may hold commas
    const values = [...parts.slice(0, fields.length - 1), parts.slice(fields.length - 1).join(",")];
    const get = (name) => values[fields.indexOf(name)] ?? "";
    const body = get("text");
    const tags = (body.match(/\{[^}]*\}/g) || []).join("");
    const colour = tags.match(/\\1?c&H([0-9a-f]{1,8})&?/i);
    let color = "#ffffff";
    if (colour) {
      const bgr = colour[1].padStart(6, "0").slice(-6);
      color = `#${bgr.slice(4, 6)}${bgr.slice(2, 4)}${bgr.slice(0, 2)}`;
    }
    const mode = /\\move/i.test(tags) ? "scroll" : /\\an[789]/i.test(tags) ? "top" : /\\an[123]/i.test(tags) ? "bottom" : "scroll";
    const plain = body.replace(/\{[^}]*\}/g, "").replace(/\\[Nn]/g, " ").replace(/\\h/g, " ").trim();
    const t = assTime(get("start"));
    if (plain && Number.isFinite(t)) out.push({ t, text: plain, color, mode });
  }
  return out;
}

async function loadDanmaku(url, parse) {
  const text = await fetch(url).then((r) => (r.ok ? r.text() : ""));
  return parse(text).sort((a, b) => a.t - b.t);
}

function overlay(video, layer, comments) {
  clearInterval(overlayTimer);
  layer.replaceChildren();
  let next = 0;
  let last = 0;
  const lanes = { scroll: 0, top: 0, bottom: 0 };
  const LANES = 10;
  overlayTimer = setInterval(() => {
    const now = video.currentTime;
    if (now < last - 0.5) {
      // a seek back: start again from that moment
      next = comments.findIndex((c) => c.t >= now);
      if (next < 0) next = comments.length;
      layer.replaceChildren();
    }
    last = now;
    if (video.paused) return;
    while (next < comments.length && comments[next].t <= now) {
      const c = comments[next++];
      if (now - c.t > 2) continue; // skipped over by a seek forward
      const lane = lanes[c.mode]++ % LANES;
      const where = c.mode === "bottom" ? `bottom:${lane * 8 + 2}%` : `top:${lane * 8 + 2}%`;
      const span = h("span", { class: c.mode, style: `${where};color:${c.color}` }, c.text);
      span.addEventListener("animationend", () => span.remove());
      layer.append(span);
    }
  }, 200);
}

export async function playSegment(box, tickets, label) {
  stopPlayer();
  const video = h("video", { id: "video", controls: true, autoplay: true, muted: true, playsinline: true, "aria-label": label });
  const layer = h("div", { class: "danmaku", "aria-hidden": "true" });
  box.replaceChildren(h("h2", {}, label), h("div", { class: "player" }, video, layer));
  // the recorded XML (every message as sent), or the ASS a pipeline rendered
  const sources = [
    tickets.danmu_url && { key: "xml", label: "danmaku (XML)", url: tickets.danmu_url, parse: parseXml },
    tickets.ass_url && { key: "ass", label: "danmaku (ASS)", url: tickets.ass_url, parse: parseAss },
  ].filter(Boolean);
  const show = async (source) => {
    layer.dataset.source = source ? source.key : "";
    if (!source) {
      clearInterval(overlayTimer);
      layer.replaceChildren();
      return;
    }
    const comments = await loadDanmaku(source.url, source.parse).catch(() => []);
    if (layer.dataset.source === source.key) overlay(video, layer, comments);
  };
  if (sources.length) {
    box.append(h("label", { class: "small" }, "Danmaku ",
      h("select", { id: "danmaku-source", onchange: (e) => show(sources.find((x) => x.key === e.target.value)) },
        sources.map((x) => h("option", { value: x.key }, x.label)), h("option", { value: "" }, "off"))));
  }
  const type = tickets.content_type;
  if (type === "video/mp2t" || type === "video/x-flv") {
    const mpegts = await loadMpegts();
    if (!mpegts.getFeatureList().mseLivePlayback) throw new Error("this browser cannot play MPEG-TS or FLV (no Media Source Extensions)");
    player = mpegts.createPlayer({ type: type === "video/x-flv" ? "flv" : "mpegts", isLive: false, url: new URL(tickets.video_url, location.href).href });
    player.attachMediaElement(video);
    player.load();
    video.play().catch(() => {});
  } else {
    video.src = tickets.video_url;
  }
  await show(sources[0]);
  video.focus();
}
