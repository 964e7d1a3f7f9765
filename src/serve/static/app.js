// ForgeryTalker analyst page: plain browser JavaScript, no framework, no build step.
// Talks to the JSON API beside it (/api/model, /api/analyze); every image stays in this tab
// (history in memory only). Text from the server is inserted with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const ui = {
  modelInfo: $("model-info"),
  tokenForm: $("token-form"),
  tokenInput: $("token-input"),
  drop: $("drop"),
  pick: $("pick"),
  file: $("file"),
  limits: $("limits"),
  history: $("history"),
  historyEmpty: $("history-empty"),
  clear: $("clear"),
  result: $("result"),
  overlayOn: $("overlay-on"),
  outline: $("outline"),
  opacity: $("opacity"),
  opacityOut: $("opacity-out"),
  zoom: $("zoom"),
  stage: $("stage"),
  view: $("view"),
  status: $("status"),
  dlMask: $("dl-mask"),
  dlJson: $("dl-json"),
  dlOverlay: $("dl-overlay"),
  explanation: $("explanation"),
  instruction: $("instruction"),
  regions: $("regions"),
  regionSummary: $("region-summary"),
  sort: $("sort"),
  timings: $("timings").tBodies[0],
  help: $("help"),
  helpBtn: $("help-btn"),
};

/** @type {{id:number,file:File,name:string,thumb:string,state:string,error?:string,data?:any,rtt?:number,view?:any}[]} */
const items = [];
let current = null;
let nextId = 1;
let token = sessionStorage.getItem("ft-token") || "";
let model = null;
let chain = Promise.resolve();

// a token handed over in the URL fragment (#token=...) never reaches the server's logs
const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
if (m) {
  token = decodeURIComponent(m[1]);
  sessionStorage.setItem("ft-token", token);
  history.replaceState(null, "", location.pathname + location.search);
}

function headers(extra = {}) {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: headers(init.headers || {}) });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = { error: `HTTP ${res.status} (no JSON body)` };
  }
  if (res.status === 401) ui.tokenForm.hidden = false;
  if (!res.ok) throw new Error(body && body.error ? body.error : `HTTP ${res.status}`);
  return body;
}

async function loadModel() {
  try {
    model = await api("/api/model");
    ui.tokenForm.hidden = true;
    ui.modelInfo.classList.remove("bad");
    const sha = model.sha256 ? model.sha256.slice(0, 12) : "in-memory";
    ui.modelInfo.textContent = `model ${model.config} · ${model.checkpoint} (${sha}) · ${model.stage} · ` +
      `${(model.parameters / 1e6).toFixed(1)} M params · ${model.device} · ${model.decoding.mode}` +
      (model.decoding.mode === "beam" ? ` ${model.decoding.beams}` : "") +
      (model.saving ? " · server saves analyses" : "");
    const l = model.limits;
    ui.limits.textContent = `PNG or JPEG, up to ${(l.maxUploadBytes / 1048576).toFixed(0)} MB and ` +
      `${l.maxSide} px per side.`;
  } catch (e) {
    ui.modelInfo.classList.add("bad");
    ui.modelInfo.textContent = `server: ${e.message}`;
  }
}

ui.tokenForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  token = ui.tokenInput.value.trim();
  sessionStorage.setItem("ft-token", token);
  ui.tokenInput.value = "";
  loadModel();
});

// ---- adding images ------------------------------------------------------------------------

function addFiles(files) {
  const list = [...files].filter((f) => f && f.size !== undefined);
  if (!list.length) return;
  for (const file of list) {
    const it = {
      id: nextId++,
      file,
      name: file.name || "pasted image",
      thumb: URL.createObjectURL(file),
      state: "queued",
    };
    items.push(it);
    renderHistory();
    // one upload at a time from this tab: results arrive in order and the server's queue
    // stays short for other analysts
    chain = chain.then(() => analyzeItem(it));
    if (!current || current.state === "error" || list.length === 1) select(it);
  }
  ui.clear.disabled = false;
}

async function analyzeItem(it) {
  if (!items.includes(it)) return;
  it.state = "analyzing";
  renderHistory();
  if (current === it) showItem(it);
  const form = new FormData();
  form.append("image", it.file, it.name);
  const t0 = performance.now();
  try {
    it.data = await api("/api/analyze", { method: "POST", body: form });
    it.rtt = performance.now() - t0;
    it.state = "done";
    it.view = await prepareView(it);
  } catch (e) {
    it.state = "error";
    it.error = e.message;
  }
  renderHistory();
  if (current === it) showItem(it);
}

ui.pick.addEventListener("click", () => ui.file.click());
ui.file.addEventListener("change", () => {
  addFiles(ui.file.files);
  ui.file.value = "";
});
for (const ev of ["dragenter", "dragover"]) {
  document.addEventListener(ev, (e) => {
    e.preventDefault();
    ui.drop.classList.add("over");
  });
}
for (const ev of ["dragleave", "drop"]) {
  document.addEventListener(ev, (e) => {
    e.preventDefault();
    if (ev === "drop" || e.target === document.documentElement) ui.drop.classList.remove("over");
  });
}
document.addEventListener("drop", (e) => addFiles(e.dataTransfer ? e.dataTransfer.files : []));
document.addEventListener("paste", (e) => {
  const files = [...(e.clipboardData ? e.clipboardData.files : [])].filter((f) => /^image\//.test(f.type));
  if (files.length) addFiles(files);
});
ui.clear.addEventListener("click", () => {
  for (const it of items) URL.revokeObjectURL(it.thumb);
  items.length = 0;
  current = null;
  ui.clear.disabled = true;
  renderHistory();
  showItem(null);
});

// ---- history ------------------------------------------------------------------------------

function summary(it) {
  if (it.state === "done") {
    const r = it.data.report;
    const sel = r.regions.selected;
    return `${(r.mask.areaFraction * 100).toFixed(1)}% masked · ${sel.length ? sel.join(", ") : "no region"}`;
  }
  if (it.state === "error") return `error: ${it.error}`;
  return it.state === "queued" ? "waiting…" : "analysing…";
}

function renderHistory() {
  ui.history.replaceChildren(...items.map((it) => {
    const li = document.createElement("li");
    li.className = it.state;
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.id = String(it.id);
    b.setAttribute("aria-current", String(it === current));
    const img = document.createElement("img");
    img.src = it.thumb;
    img.alt = "";
    const text = document.createElement("span");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = it.name;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = summary(it);
    text.append(name, meta);
    b.append(img, text);
    b.addEventListener("click", () => select(it));
    li.append(b);
    return li;
  }));
  ui.historyEmpty.hidden = items.length > 0;
}

function select(it) {
  current = it;
  renderHistory();
  showItem(it);
}

function step(d) {
  if (!items.length) return;
  const i = Math.max(0, Math.min(items.length - 1, items.indexOf(current) + d));
  select(items[i]);
  const b = ui.history.querySelector(`button[data-id="${items[i].id}"]`);
  if (b) b.focus();
}

// ---- the image with its mask --------------------------------------------------------------

function loadImage(src) {
  return new Promise((res, rej) => {
    const img = new Image();
    img.onload = () => res(img);
    img.onerror = () => rej(new Error("the browser could not display this image"));
    img.src = src;
  });
}

/** Decodes the photo and the mask once per item: base pixels, mask and its outline. */
async function prepareView(it) {
  const [photo, maskImg] = await Promise.all([loadImage(it.thumb), loadImage(it.data.maskPng)]);
  const w = it.data.report.mask.width, h = it.data.report.mask.height;
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(photo, 0, 0, w, h);
  const base = ctx.getImageData(0, 0, w, h);
  ctx.clearRect(0, 0, w, h);
  ctx.drawImage(maskImg, 0, 0, w, h);
  const mp = ctx.getImageData(0, 0, w, h).data;
  const mask = new Uint8Array(w * h);
  for (let i = 0; i < mask.length; i++) mask[i] = mp[i * 4] > 127 ? 1 : 0;
  return { w, h, base, mask, edge: outlineOf(mask, w, h) };
}

/** Mask pixels next to a non-mask pixel, thickened so the outline stays visible when scaled down. */
function outlineOf(mask, w, h) {
  const e = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!mask[i]) continue;
      if (
        x === 0 || y === 0 || x === w - 1 || y === h - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - w] ||
        !mask[i + w]
      ) {
        e[i] = 1;
      }
    }
  }
  const r = Math.max(0, Math.round(Math.max(w, h) / 512) - 1);
  if (!r) return e;
  // separable dilation (square window), kept inside the mask
  const tmp = new Uint8Array(w * h), out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let k = Math.max(0, x - r); k <= Math.min(w - 1, x + r) && !v; k++) v = e[y * w + k];
      tmp[y * w + x] = v;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let k = Math.max(0, y - r); k <= Math.min(h - 1, y + r) && !v; k++) v = tmp[k * w + x];
      out[y * w + x] = v && mask[y * w + x];
    }
  }
  return out;
}

const TINT = [255, 64, 64], EDGE = [255, 214, 0];

function drawView() {
  const v = current && current.view;
  if (!v) return;
  const cv = ui.view;
  if (cv.width !== v.w || cv.height !== v.h) cv.width = v.w, cv.height = v.h;
  const ctx = cv.getContext("2d");
  if (!ui.overlayOn.checked) {
    ctx.putImageData(v.base, 0, 0);
    return;
  }
  const a = Number(ui.opacity.value) / 100, outline = ui.outline.checked;
  const out = new ImageData(new Uint8ClampedArray(v.base.data), v.w, v.h);
  const d = out.data;
  for (let i = 0; i < v.mask.length; i++) {
    if (!v.mask[i]) continue;
    const o = i * 4;
    if (v.edge[i]) {
      d[o] = EDGE[0], d[o + 1] = EDGE[1], d[o + 2] = EDGE[2];
    } else if (!outline) {
      d[o] = d[o] * (1 - a) + TINT[0] * a;
      d[o + 1] = d[o + 1] * (1 - a) + TINT[1] * a;
      d[o + 2] = d[o + 2] * (1 - a) + TINT[2] * a;
    }
  }
  ctx.putImageData(out, 0, 0);
}

for (const el of [ui.overlayOn, ui.outline, ui.opacity]) el.addEventListener("input", drawView);
ui.opacity.addEventListener("input", () => {
  ui.opacityOut.textContent = `${ui.opacity.value}%`;
  ui.opacity.setAttribute("aria-valuetext", `${ui.opacity.value}%`);
});
ui.zoom.addEventListener("change", () => ui.stage.classList.toggle("actual", ui.zoom.checked));

// ---- findings -----------------------------------------------------------------------------

function setDownloads(it) {
  const ok = it && it.state === "done";
  for (const a of [ui.dlMask, ui.dlJson, ui.dlOverlay]) {
    a.setAttribute("aria-disabled", String(!ok));
    a.tabIndex = ok ? 0 : -1;
    if (!ok) a.removeAttribute("href");
  }
  if (!ok) return;
  const stem = it.name.replace(/\.[^.]+$/, "") || "image";
  ui.dlMask.href = it.data.maskPng;
  ui.dlMask.download = `${stem}.mask.png`;
  if (ui.dlJson.href && ui.dlJson.href.startsWith("blob:")) URL.revokeObjectURL(ui.dlJson.href);
  const blob = new Blob([JSON.stringify(it.data.report, null, 2) + "\n"], { type: "application/json" });
  ui.dlJson.href = URL.createObjectURL(blob);
  ui.dlJson.download = `${stem}.json`;
  ui.dlOverlay.download = `${stem}.overlay.png`;
  ui.dlOverlay.href = "#";
}
ui.dlOverlay.addEventListener("click", (e) => {
  // the overlay as currently shown (opacity, outline), rendered from the canvas on demand
  if (ui.dlOverlay.getAttribute("aria-disabled") === "true") return;
  if (ui.dlOverlay.href.startsWith("data:")) return;
  e.preventDefault();
  ui.dlOverlay.href = ui.view.toDataURL("image/png");
  ui.dlOverlay.click();
  setTimeout(() => (ui.dlOverlay.href = "#"), 0);
});

function renderExplanation(r, spans) {
  const text = r.explanation || "";
  const parts = [];
  let at = 0;
  for (const s of spans) {
    if (s.start > at) parts.push(document.createTextNode(text.slice(at, s.start)));
    const mk = document.createElement("mark");
    mk.textContent = text.slice(s.start, s.end);
    mk.dataset.regions = s.regions.join(" ");
    mk.title = `region: ${s.regions.join(", ")}`;
    if (s.regions.some((g) => r.regions.selected.includes(g))) mk.classList.add("sel");
    parts.push(mk);
    at = s.end;
  }
  if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
  if (!text) parts.push(document.createTextNode("(the report decoder returned an empty text)"));
  ui.explanation.replaceChildren(...parts);
  ui.instruction.textContent = r.instruction;
}

function renderRegions(r) {
  const names = Object.keys(r.regions.probabilities);
  if (ui.sort.getAttribute("aria-pressed") === "true") {
    names.sort((a, b) => r.regions.probabilities[b] - r.regions.probabilities[a]);
  }
  const thr = r.regions.threshold;
  ui.regions.replaceChildren(...names.map((n) => {
    const p = r.regions.probabilities[n];
    const li = document.createElement("li");
    li.dataset.region = n;
    if (p >= thr) li.classList.add("on");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = n;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.setAttribute("role", "img");
    bar.setAttribute("aria-label", `${n}: probability ${p.toFixed(3)}, threshold ${thr}`);
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${(p * 100).toFixed(1)}%`;
    const t = document.createElement("span");
    t.className = "thr";
    t.style.left = `calc(${(thr * 100).toFixed(1)}% - 1px)`;
    bar.append(fill, t);
    const val = document.createElement("span");
    val.className = "val";
    val.textContent = p.toFixed(2);
    li.append(label, bar, val);
    return li;
  }));
  const sel = r.regions.selected;
  ui.regionSummary.textContent = `${sel.length} of ${names.length} above the threshold ${thr}` +
    (sel.length ? `: ${sel.join(", ")}` : "");
}

function renderTimings(it) {
  const r = it.data.report, t = r.timings, s = it.data.timings;
  const rows = [
    ["mask area", `${(r.mask.areaFraction * 100).toFixed(2)}% (p ≥ ${r.mask.threshold})`],
    ["image", `${r.image.width}×${r.image.height} ${it.data.format.toUpperCase()}`],
    ["waiting in queue", ms(s.queueMs)],
    ["decode image", ms(t.decodeImage)],
    ["preprocess", ms(t.preprocess)],
    ["image encoders", ms(t.vision)],
    ["mask decoder", ms(t.mask)],
    ["report decoder", ms(t.report)],
    ["model total", ms(t.total)],
    ["server total", ms(s.serverMs)],
    ["round trip", ms(it.rtt)],
  ];
  ui.timings.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement("tr");
    const a = document.createElement("td"), b = document.createElement("td");
    a.textContent = k;
    b.textContent = v;
    tr.append(a, b);
    return tr;
  }));
}

function ms(x) {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`;
}

function clearFindings() {
  ui.explanation.textContent = "—";
  ui.instruction.textContent = "";
  ui.regions.replaceChildren();
  ui.regionSummary.textContent = "";
  ui.timings.replaceChildren();
}

function showItem(it) {
  ui.result.dataset.id = it ? String(it.id) : "";
  setDownloads(it);
  if (!it) {
    ui.result.dataset.state = "empty";
    ui.status.textContent = "";
    clearFindings();
    return;
  }
  ui.result.setAttribute("aria-busy", String(it.state === "queued" || it.state === "analyzing"));
  if (it.state === "done") {
    ui.result.dataset.state = "done";
    ui.status.textContent = `${it.name}: analysed in ${ms(it.rtt)}`;
    drawView();
    renderExplanation(it.data.report, it.data.highlights);
    renderRegions(it.data.report);
    renderTimings(it);
    return;
  }
  clearFindings();
  ui.result.dataset.state = it.state === "error" ? "error" : "busy";
  ui.status.textContent = it.state === "error" ? `${it.name}: ${it.error}` : `${it.name}: ${summary(it)}`;
  // show the photo itself while waiting
  loadImage(it.thumb).then((img) => {
    if (current !== it || it.state === "done") return;
    ui.view.width = img.naturalWidth;
    ui.view.height = img.naturalHeight;
    ui.view.getContext("2d").drawImage(img, 0, 0);
  }).catch(() => {});
}

// hovering or focusing a highlighted word lights up its region bars, and back
function hot(regions, on) {
  for (const g of regions) {
    const li = ui.regions.querySelector(`li[data-region="${g}"]`);
    if (li) li.classList.toggle("hot", on);
    for (const mk of ui.explanation.querySelectorAll("mark")) {
      if (mk.dataset.regions.split(" ").includes(g)) mk.classList.toggle("hot", on);
    }
  }
}
ui.explanation.addEventListener(
  "mouseover",
  (e) => e.target.dataset.regions && hot(e.target.dataset.regions.split(" "), true),
);
ui.explanation.addEventListener(
  "mouseout",
  (e) => e.target.dataset.regions && hot(e.target.dataset.regions.split(" "), false),
);
ui.regions.addEventListener("mouseover", (e) => {
  const li = e.target.closest("li");
  if (li) hot([li.dataset.region], true);
});
ui.regions.addEventListener("mouseout", (e) => {
  const li = e.target.closest("li");
  if (li) hot([li.dataset.region], false);
});

ui.sort.addEventListener("click", () => {
  ui.sort.setAttribute("aria-pressed", String(ui.sort.getAttribute("aria-pressed") !== "true"));
  if (current && current.state === "done") renderRegions(current.data.report);
});

// ---- keyboard -----------------------------------------------------------------------------

ui.helpBtn.addEventListener("click", () => ui.help.showModal());
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && !["checkbox", "range"].includes(t.type)))) {
    return;
  }
  if (ui.help.open) return;
  const toggle = (el) => {
    el.checked = !el.checked;
    el.dispatchEvent(new Event(el === ui.zoom ? "change" : "input"));
  };
  const nudge = (d) => {
    ui.opacity.value = String(Math.max(0, Math.min(100, Number(ui.opacity.value) + d)));
    ui.opacity.dispatchEvent(new Event("input"));
  };
  switch (e.key) {
    case "u":
    case "U":
      ui.file.click();
      break;
    case "o":
    case "O":
      toggle(ui.overlayOn);
      break;
    case "l":
    case "L":
      toggle(ui.outline);
      break;
    case "z":
    case "Z":
      toggle(ui.zoom);
      break;
    case "s":
    case "S":
      ui.sort.click();
      break;
    case "[":
      nudge(-10);
      break;
    case "]":
      nudge(10);
      break;
    case "j":
    case "J":
      step(1);
      break;
    case "k":
    case "K":
      step(-1);
      break;
    case "?":
      ui.help.showModal();
      break;
    default:
      return;
  }
  e.preventDefault();
});

loadModel();
