// Plays one segment: MP4/WebM directly, MPEG-TS and FLV through mpegts.js, with
// the danmaku of its XML file flying over the picture.
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
async function loadDanmaku(url) {
  if (!url) return [];
  const text = await fetch(url).then((r) => (r.ok ? r.text() : ""));
  const doc = new DOMParser().parseFromString(text, "application/xml");
  return [...doc.querySelectorAll("d")].map((d) => {
    const p = (d.getAttribute("p") || "0").split(",");
    const color = Number(p[3] || 16777215).toString(16).padStart(6, "0");
    return { t: Number(p[0]) || 0, text: d.textContent, color: `#${color}` };
  }).sort((a, b) => a.t - b.t);
}

function overlay(video, layer, comments) {
  let next = 0;
  let lane = 0;
  let last = 0;
  const lanes = 10;
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
      const span = h("span", { style: `top:${(lane % lanes) * 8 + 2}%;color:${c.color}` }, c.text);
      lane++;
      span.addEventListener("animationend", () => span.remove());
      layer.append(span);
    }
  }, 200);
}

export async function playSegment(box, tickets, label) {
  stopPlayer();
  const video = h("video", { id: "video", controls: true, autoplay: true, muted: true, playsinline: true, "aria-label": label });
  const layer = h("div", { class: "danmaku", "aria-hidden": "true" });
  const toggle = h("label", { class: "small" }, h("input", { type: "checkbox", checked: true, onchange: (e) => { layer.hidden = !e.target.checked; } }), " danmaku");
  box.replaceChildren(h("h2", {}, label), h("div", { class: "player" }, video, layer));
  if (tickets.danmu_url) box.append(toggle);
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
  const comments = await loadDanmaku(tickets.danmu_url).catch(() => []);
  if (comments.length) overlay(video, layer, comments);
  video.focus();
}
