// The page of `juanji serve`: draw or upload, and show what the model computes of it.
// No libraries: canvas drawing, fetch, and arrays decoded from the API's compact form
// ({shape, min, max, data}: base64 bytes q standing for min + q / 255 * (max - min)).
"use strict";

const PAD_INK = 24;          // stroke width on the 280-pixel pad
const THROTTLE_MS = 120;     // at most one request per this while drawing
const FIT_MARGIN = 0;        // "fit": the ink's longer side fills the model's input
const BOX_FRACTION = 20 / 28; // "box": as MNIST, the ink fits a 20x20 box of 28x28

// Colour maps as anchor colours, interpolated: viridis for feature maps (low to high),
// blue-white-red for filters (negative, zero, positive).
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80",
  "#5ec962", "#addc30", "#fde725"];
const DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"];

const state = {
  summary: null,
  last: null,          // the last prediction answered
  responses: 0,        // how many predictions were answered
  timer: null,
  inFlight: false,
  again: false,
  source: "pad",       // "pad" or "upload"
  uploadName: "",
};
// For tests and curious users: window.juanji.last is the last answer of /api/predict.
window.juanji = {
  get summary() { return state.summary; },
  get last() { return state.last; },
  get responses() { return state.responses; },
  idle() { return state.timer === null && !state.inFlight; },
};

const $ = (id) => document.getElementById(id);

function lut(anchors) {
  const rgb = anchors.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
  const table = new Uint8ClampedArray(256 * 3);
  for (let q = 0; q < 256; q++) {
    const t = (q / 255) * (rgb.length - 1);
    const i = Math.min(Math.floor(t), rgb.length - 2);
    const f = t - i;
    for (let c = 0; c < 3; c++) table[q * 3 + c] = rgb[i][c] + f * (rgb[i + 1][c] - rgb[i][c]);
  }
  return table;
}
const MAPS_LUT = lut(VIRIDIS);
const FILTERS_LUT = lut(DIVERGING);

function decodeBytes(encoded) {
  const text = atob(encoded.data);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function formatValue(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(1) : v.toPrecision(3);
}

// One H x W tile from bytes[offset ...], coloured through table.
function paintTile(canvas, bytes, offset, height, width, table) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(width, height);
  for (let p = 0; p < height * width; p++) {
    const q = bytes[offset + p] * 3;
    image.data[p * 4] = table[q];
    image.data[p * 4 + 1] = table[q + 1];
    image.data[p * 4 + 2] = table[q + 2];
    image.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

function colourBar(table, lo, hi) {
  const box = document.createElement("div");
  box.className = "scale";
  const bar = document.createElement("canvas");
  bar.width = 256;
  bar.height = 1;
  const ctx = bar.getContext("2d");
  const image = ctx.createImageData(256, 1);
  for (let q = 0; q < 256; q++) {
    image.data.set([table[q * 3], table[q * 3 + 1], table[q * 3 + 2], 255], q * 4);
  }
  ctx.putImageData(image, 0, 0);
  const low = document.createElement("span");
  low.textContent = formatValue(lo);
  const high = document.createElement("span");
  high.textContent = formatValue(hi);
  box.append(low, bar, high);
  return box;
}

// The display size of a tile: small maps are enlarged more, so that every layer reads.
function tileSize(height, width, most) {
  const scale = Math.max(1, Math.min(most, Math.floor(72 / Math.max(height, width))));
  return [width * scale, height * scale];
}

// A grid of tiles for an encoded (count, H, W) array, labelled with label(k).
function tileGrid(encoded, table, label, most = 6) {
  const [count, height, width] = encoded.shape;
  const bytes = decodeBytes(encoded);
  const grid = document.createElement("div");
  grid.className = "tiles";
  const [w, h] = tileSize(height, width, most);
  for (let k = 0; k < count; k++) {
    const tile = document.createElement("div");
    tile.className = "tile";
    const canvas = document.createElement("canvas");
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
    paintTile(canvas, bytes, k * height * width, height, width, table);
    const caption = document.createElement("span");
    caption.textContent = label(k);
    tile.append(canvas, caption);
    grid.append(tile);
  }
  return grid;
}

// --- the model ----------------------------------------------------------------------------
function showSummary(summary) {
  const [height, width] = summary.image_size;
  $("model-line").textContent = `${summary.name}: ${summary.layers.length} layers, ` +
    `${summary.total_params.toLocaleString()} parameters, input ` +
    `${summary.input_shape.join("×")}, ${summary.classes.length} classes`;
  $("seen").width = width;
  $("seen").height = height;
  $("seen-size").textContent = `${height}×${width}×${summary.channels}`;

  const table = document.createElement("table");
  table.innerHTML = "<thead><tr><th>Layer</th><th>Type</th><th>Output</th>" +
    "<th class='num'>Params</th></tr></thead>";
  const body = document.createElement("tbody");
  for (const layer of summary.layers) {
    const row = document.createElement("tr");
    const shape = layer.output_shape.map((n) => (n === null ? "N" : n)).join("×");
    for (const [text, cls] of [[layer.name, ""], [layer.type, ""], [shape, ""],
      [layer.params.toLocaleString(), "num"]]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (cls) cell.className = cls;
      row.append(cell);
    }
    body.append(row);
  }
  table.append(body);
  const totals = document.createElement("p");
  totals.className = "totals muted";
  totals.textContent = `Total ${summary.total_params.toLocaleString()} parameters, ` +
    `${summary.trainable_params.toLocaleString()} trainable.`;
  $("summary").replaceChildren(table, totals);

  const filters = summary.filters;
  if (!filters) {
    $("filters").textContent = "This model has no convolution.";
  } else {
    const [f, c, kh, kw] = filters.shape;
    const head = document.createElement("div");
    head.className = "layer-head";
    const title = document.createElement("h3");
    title.innerHTML = `${filters.layer}<span class="dims">${f} filters of ${kh}×${kw}×${c}</span>`;
    head.append(title, colourBar(FILTERS_LUT, filters.min, filters.max));
    const flat = { ...filters, shape: [f * c, kh, kw] };
    const label = (k) => (c === 1 ? `${k}` : `${Math.floor(k / c)}·${k % c}`);
    $("filters").replaceChildren(head, tileGrid(flat, FILTERS_LUT, label, 12));
  }
  if (!summary.shows_maps) {
    $("maps").textContent = "Feature maps are shown for Sequential and functional models.";
  }
}

// --- drawing ------------------------------------------------------------------------------
const pad = $("pad");
const padCtx = pad.getContext("2d", { willReadFrequently: true });

function clearPad() {
  padCtx.fillStyle = "#000";
  padCtx.fillRect(0, 0, pad.width, pad.height);
}

function padPoint(event) {
  const rect = pad.getBoundingClientRect();
  return [(event.clientX - rect.left) * (pad.width / rect.width),
    (event.clientY - rect.top) * (pad.height / rect.height)];
}

let drawing = null;  // the pointer id while a stroke is drawn
pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  if (state.source !== "pad") {
    clearPad();
    state.source = "pad";
  }
  drawing = event.pointerId;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = padPoint(event);
  padCtx.strokeStyle = "#fff";
  padCtx.fillStyle = "#fff";
  padCtx.lineWidth = PAD_INK;
  padCtx.lineCap = "round";
  padCtx.lineJoin = "round";
  padCtx.beginPath();
  padCtx.arc(x, y, PAD_INK / 2, 0, 2 * Math.PI);
  padCtx.fill();
  padCtx.beginPath();
  padCtx.moveTo(x, y);
  schedule();
});
pad.addEventListener("pointermove", (event) => {
  if (drawing !== event.pointerId) return;
  const [x, y] = padPoint(event);
  padCtx.lineTo(x, y);
  padCtx.stroke();
  padCtx.beginPath();
  padCtx.moveTo(x, y);
  schedule();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (event) => {
    if (drawing !== event.pointerId) return;
    drawing = null;
    schedule();
  });
}

// The pad as the model's input: the ink cropped, scaled to fit (keeping its proportions),
// centred, and averaged down to the model's size; values in [0, 1] per channel.
function padInput(summary) {
  const [height, width] = summary.image_size;
  const framing = $("framing").value;
  const small = document.createElement("canvas");
  small.width = width;
  small.height = height;
  const ctx = small.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  const ink = inkBox();
  if (framing === "whole") {
    ctx.drawImage(pad, 0, 0, width, height);
  } else if (ink) {
    const fraction = framing === "box" ? BOX_FRACTION : 1 - 2 * FIT_MARGIN;
    const scale = Math.min((width * fraction) / ink.w, (height * fraction) / ink.h);
    const w = ink.w * scale;
    const h = ink.h * scale;
    ctx.drawImage(pad, ink.x, ink.y, ink.w, ink.h, (width - w) / 2, (height - h) / 2, w, h);
  }
  const pixels = ctx.getImageData(0, 0, width, height).data;
  return { pixels, height, width };
}

function inkBox() {
  const { data, width, height } = padCtx.getImageData(0, 0, pad.width, pad.height);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4] > 16) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

function nestedInput(summary, pixels, height, width) {
  const channels = summary.channels;
  const value = (y, x, c) => pixels[(y * width + x) * 4 + (channels === 1 ? 0 : c)] / 255;
  const rows = (fn) => Array.from({ length: height }, (_, y) =>
    Array.from({ length: width }, (_, x) => fn(y, x)));
  if (summary.data_format === "channels_first") {
    return Array.from({ length: channels }, (_, c) => rows((y, x) => value(y, x, c)));
  }
  return rows((y, x) => Array.from({ length: channels }, (_, c) => value(y, x, c)));
}

// --- asking the model ---------------------------------------------------------------------
function schedule() {
  if (state.timer === null) state.timer = setTimeout(send, THROTTLE_MS);
}

async function send() {
  state.timer = null;
  if (state.inFlight) {
    state.again = true;
    return;
  }
  if (state.source !== "pad" || !state.summary) return;
  const { pixels, height, width } = padInput(state.summary);
  const input = nestedInput(state.summary, pixels, height, width);
  await ask("/api/predict?maps=1&top=3", {
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ input }),
  });
}

async function ask(url, options) {
  state.inFlight = true;
  try {
    const response = await fetch(url, { method: "POST", ...options });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
    state.last = answer;
    state.responses += 1;
    showPrediction(answer);
    setStatus(state.source === "upload" ? `uploaded ${state.uploadName}` : "");
  } catch (error) {
    setStatus(`error: ${error.message}`, true);
  } finally {
    state.inFlight = false;
    if (state.again) {
      state.again = false;
      schedule();
    }
  }
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function upload(file) {
  state.source = "upload";
  state.uploadName = file.name;
  clearPad();
  padCtx.fillStyle = "#9aa3b5";
  padCtx.font = "15px system-ui, sans-serif";
  padCtx.textAlign = "center";
  padCtx.fillText(`${file.name}`, pad.width / 2, pad.height / 2 - 8);
  padCtx.fillText("draw here to start again", pad.width / 2, pad.height / 2 + 16);
  const form = new FormData();
  form.append("file", file, file.name);
  const invert = $("invert").checked ? "auto" : "0";
  await ask(`/api/predict?maps=1&top=3&invert=${invert}`, { body: form });
}

// --- showing the answer -------------------------------------------------------------------
function showPrediction(answer) {
  const classes = state.summary.classes;
  const best = answer.top[0].index;
  const bars = $("bars");
  if (bars.children.length !== classes.length) {
    bars.replaceChildren(...classes.map((name) => {
      const row = document.createElement("div");
      row.className = "bar-row";
      row.innerHTML = "<span class='label'></span><div class='track'><div class='fill'></div>" +
        "</div><span class='value'></span>";
      row.querySelector(".label").textContent = name;
      return row;
    }));
  }
  answer.probabilities.forEach((p, k) => {
    const row = bars.children[k];
    row.classList.toggle("best", k === best);
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".value").textContent = p.toFixed(3);
  });
  const top = answer.top.map((t) => `${t.class} (${(100 * t.probability).toFixed(1)}%)`);
  $("top").innerHTML = `<strong></strong> <span class="muted"></span>`;
  $("top").querySelector("strong").textContent = answer.top[0].class;
  $("top").querySelector("span").textContent = `  ${top.join(", ")}`;

  if (answer.input) {
    const [c, h, w] = answer.input.shape;
    const bytes = decodeBytes(answer.input);
    const ctx = $("seen").getContext("2d");
    const image = ctx.createImageData(w, h);
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) image.data[p * 4 + k] = bytes[(c === 3 ? k : 0) * h * w + p];
      image.data[p * 4 + 3] = 255;
    }
    // The bytes span the input's own range; shown as they are, 0 black and the max white.
    ctx.putImageData(image, 0, 0);
  }
  if (answer.maps && state.summary.shows_maps) {
    $("maps").replaceChildren(...answer.maps.map(layerMaps));
  }
}

function layerMaps(maps) {
  const [count, height, width] = maps.shape;
  const box = document.createElement("div");
  box.className = "layer";
  box.dataset.layer = maps.layer;
  const head = document.createElement("div");
  head.className = "layer-head";
  const title = document.createElement("h3");
  title.textContent = `${maps.layer}`;
  const dims = document.createElement("span");
  dims.className = "dims";
  dims.textContent = `${maps.type} · ${count} maps of ${height}×${width}`;
  title.append(dims);
  head.append(title, colourBar(MAPS_LUT, maps.min, maps.max));
  box.append(head, tileGrid(maps, MAPS_LUT, (k) => `${k}`));
  return box;
}

// --- start --------------------------------------------------------------------------------
async function start() {
  clearPad();
  $("clear").addEventListener("click", () => {
    state.source = "pad";
    clearPad();
    schedule();
  });
  $("framing").addEventListener("change", schedule);
  $("upload").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) upload(file);
    event.target.value = "";
  });
  try {
    const response = await fetch("/api/model");
    state.summary = await response.json();
    if (!response.ok) throw new Error(state.summary.error);
  } catch (error) {
    setStatus(`cannot load the model: ${error.message}`, true);
    return;
  }
  showSummary(state.summary);
  schedule();  // the blank pad's answer, to compare with
}

start();
