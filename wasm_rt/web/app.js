// The demo page: a live digit classifier and an "open your own .onnx" runner.
import { InferenceSession, Tensor } from "./wasm_rt.js";

const $ = (id) => document.getElementById(id);
const STAGE_SPAN = { pyodide: [0, 45], packages: [45, 85], model: [85, 95], session: [95, 100] };
const state = { session: null, provider: "numpy", busy: false, dirty: false, prediction: null, ownSession: null };
window.demo = state; // for tests and the curious

// ---- loading bar and errors ------------------------------------------------------

function onProgress({ stage, loaded, total, message }) {
  const [lo, hi] = STAGE_SPAN[stage] || [0, 100];
  const frac = total ? Math.min(loaded / total, 1) : 0;
  $("bar-fill").style.width = `${lo + (hi - lo) * frac}%`;
  const bytes = stage === "model" && total ? ` (${(loaded / 1024).toFixed(0)} of ${(total / 1024).toFixed(0)} KiB)` : "";
  $("status").textContent = `${message}${bytes}`;
}

function ready(text) {
  $("loading").classList.add("done");
  $("status").textContent = text;
}

function showError(err) {
  const box = $("error");
  box.hidden = false;
  box.textContent = err.type ? `${err.type}: ${err.pythonMessage}` : `${err.name}: ${err.message}`;
  if (err.traceback) {
    const details = document.createElement("details");
    details.innerHTML = "<summary>Python traceback</summary>";
    const pre = document.createElement("pre");
    pre.textContent = err.traceback;
    details.append(pre);
    box.append(details);
  }
  $("status").textContent = "Something went wrong: see the message below.";
  console.error(err);
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// ---- digits: drawing pad ---------------------------------------------------------

const pad = $("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  state.prediction = null;
  $("pred").textContent = "–";
  renderProbs(null);
}

function pointer(e) {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
}

let drawing = null;
pad.addEventListener("pointerdown", (e) => {
  drawing = pointer(e);
  pad.setPointerCapture?.(e.pointerId);
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const next = pointer(e);
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 18;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(...drawing);
  ctx.lineTo(...next);
  ctx.stroke();
  drawing = next;
  schedule();
});
for (const ev of ["pointerup", "pointerleave", "pointercancel"]) {
  pad.addEventListener(ev, () => {
    if (drawing) schedule();
    drawing = null;
  });
}

// The data set's images are 32x32 bitmaps, digit scaled to fill the box, then
// counted in 4x4 blocks (0..16). Do the same: crop the ink, fit it, centre it.
// Integer arithmetic only: scripts/digits_preprocess.py is a bit-exact Python port
// (the training script feeds its augmented images through it; the browser test
// checks both give the same pixels). Change one, change the other.
const INK_BELOW = 128; // red channel below this is ink
const TARGET_INK = 240; // thicken thin strokes until this many of the 32x32 cells are ink
const MAX_GROW = 3;

/** RGBA bytes of the pad -> Float32Array(64) of ink counts 0..16, or null if blank. */
export function padToPixels(data, width, height) {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4] < INK_BELOW) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  // Centre the ink's box in a side x side square; grid cell t covers square
  // rows/columns [lo[t], hi[t]) and is ink when at least half of those pixels are.
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const side = Math.max(bw, bh);
  const ox = x0 - ((side - bw) >> 1), oy = y0 - ((side - bh) >> 1);
  const lo = new Int32Array(32), hi = new Int32Array(32);
  for (let t = 0; t < 32; t++) {
    lo[t] = Math.floor((t * side) / 32);
    hi[t] = Math.max(lo[t] + 1, Math.floor(((t + 1) * side) / 32));
  }
  let on = new Uint8Array(32 * 32);
  let count = 0;
  for (let ty = 0; ty < 32; ty++) {
    for (let tx = 0; tx < 32; tx++) {
      let ink = 0;
      for (let v = lo[ty]; v < hi[ty]; v++) {
        const y = oy + v;
        if (y < y0 || y > y1) continue;
        for (let u = lo[tx]; u < hi[tx]; u++) {
          const x = ox + u;
          if (x >= x0 && x <= x1 && data[(y * width + x) * 4] < INK_BELOW) ink++;
        }
      }
      if (2 * ink >= (hi[ty] - lo[ty]) * (hi[tx] - lo[tx])) {
        on[ty * 32 + tx] = 1;
        count++;
      }
    }
  }
  // A mouse stroke is much thinner than the data set's pen: grow the ink by one
  // cell (4-neighbourhood) while it covers too little of the grid.
  for (let i = 0; i < MAX_GROW && count < TARGET_INK; i++) {
    const grown = on.slice();
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        if (!on[y * 32 + x]) continue;
        if (y > 0) grown[(y - 1) * 32 + x] = 1;
        if (y < 31) grown[(y + 1) * 32 + x] = 1;
        if (x > 0) grown[y * 32 + x - 1] = 1;
        if (x < 31) grown[y * 32 + x + 1] = 1;
      }
    }
    on = grown;
    count = on.reduce((a, b) => a + b, 0);
  }
  const pixels = new Float32Array(64);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) pixels[(y >> 2) * 8 + (x >> 2)] += on[y * 32 + x];
  }
  return pixels;
}

function toPixels() {
  const { data, width, height } = ctx.getImageData(0, 0, pad.width, pad.height);
  return padToPixels(data, width, height);
}

function drawPreview(pixels) {
  const p = $("preview").getContext("2d");
  const img = p.createImageData(8, 8);
  for (let i = 0; i < 64; i++) {
    const v = 255 - Math.round((pixels[i] / 16) * 255);
    img.data.set([v, v, v, 255], i * 4);
  }
  p.putImageData(img, 0, 0);
}

function renderProbs(probs) {
  const table = $("probs");
  table.innerHTML = "";
  for (let d = 0; d < 10; d++) {
    const p = probs ? probs[d] : 0;
    const tr = table.insertRow();
    tr.dataset.digit = d;
    if (state.prediction === d) tr.className = "best";
    tr.insertCell().textContent = d;
    const bar = tr.insertCell();
    bar.className = "bar-cell";
    bar.innerHTML = `<div class="p" style="width:${(p * 100).toFixed(1)}%"></div>`;
    tr.insertCell().textContent = `${(p * 100).toFixed(1)}%`;
  }
}

// At most one run in flight; strokes made meanwhile are folded into the next run.
function schedule() {
  state.dirty = true;
  if (!state.busy) classify();
}

async function classify() {
  if (!state.session) return;
  state.busy = true;
  try {
    while (state.dirty) {
      state.dirty = false;
      const pixels = toPixels();
      if (!pixels) continue;
      drawPreview(pixels);
      state.pixels = Array.from(pixels);
      const out = await state.session.run({ pixels: new Tensor("float32", pixels, [1, 1, 8, 8]) });
      const probs = out.probabilities.data;
      state.prediction = probs.indexOf(Math.max(...probs));
      state.probabilities = Array.from(probs);
      $("pred").textContent = state.prediction;
      renderProbs(probs);
      $("runtime").textContent = `${state.session.lastRun.runMs.toFixed(2)} ms in Python, ${state.session.lastRun.totalMs.toFixed(1)} ms round trip`;
      state.runs = (state.runs || 0) + 1;
    }
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
  }
}

async function loadDigits(provider) {
  clearError();
  $("loading").classList.remove("done");
  try {
    if (state.session) await state.session.release();
    state.session = null;
    state.session = await InferenceSession.create("models/digits.onnx", { executionProviders: [provider], onProgress });
    state.provider = provider;
    $("used-provider").textContent = state.session.providers.join(", ");
    ready(`Ready: Pyodide + wasm_rt loaded, digits model on ${provider}. Draw!`);
    schedule();
  } catch (err) {
    showError(err);
    $("loading").classList.add("done");
  }
}

$("clear").addEventListener("click", clearPad);
$("provider").addEventListener("change", (e) => loadDigits(e.target.value));

// ---- open your own model ------------------------------------------------------------

const DTYPES = {
  "<f4": "float32", "<f8": "float64", "<f2": "float16", "|i1": "int8", "|u1": "uint8", "<i2": "int16",
  "<u2": "uint16", "<i4": "int32", "<u4": "uint32", "<i8": "int64", "<u8": "uint64", "|b1": "bool",
};
const ARRAYS = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array,
  uint64: BigUint64Array, bool: Uint8Array,
};

/** Parse a .npy file (version 1/2/3, C order) into a Tensor. */
export function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.slice(1, 6)) !== "NUMPY") throw new Error("not a .npy file");
  const major = bytes[6];
  const view = new DataView(buffer);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.slice(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] || "").split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const type = DTYPES[descr];
  if (!type) throw new Error(`.npy dtype ${descr} is not supported (use float32, int64, …)`);
  if (fortran) throw new Error(".npy in Fortran order is not supported; save with np.ascontiguousarray");
  const Ctor = ARRAYS[type];
  const data = new Ctor(buffer.slice(start + headerLen));
  return new Tensor(type, data, shape);
}

function randomTensor(type, dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  const Ctor = ARRAYS[type];
  if (!Ctor) throw new Error(`cannot make random data of type ${type}; upload a .npy file`);
  const data = new Ctor(n);
  for (let i = 0; i < n; i++) {
    if (type.startsWith("float") && type !== "float16") data[i] = Math.random();
    else if (type === "bool") data[i] = Math.random() < 0.5 ? 1 : 0;
    else if (type.endsWith("int64")) data[i] = BigInt(Math.floor(Math.random() * 10));
    else if (type === "float16") data[i] = 0x3c00; // 1.0
    else data[i] = Math.floor(Math.random() * 10);
  }
  return new Tensor(type, data, dims);
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function renderModelInfo(session) {
  const row = (m) => `<tr><td>${esc(m.name)}</td><td>${esc(m.type)}</td><td>[${m.shape.map((d) => esc(d === -1 || d == null ? "?" : d)).join(", ")}]</td></tr>`;
  $("model-info").innerHTML = `
    <p>Loaded in ${session.loadMs.toFixed(0)} ms on ${esc(session.providers.join(", "))}.</p>
    <table><tr><th colspan="3">Inputs</th></tr>${session.inputMetadata.map(row).join("")}
    <tr><th colspan="3">Outputs</th></tr>${session.outputMetadata.map(row).join("")}</table>`;
  $("feeds").innerHTML = session.inputMetadata
    .map((m, i) => {
      // Unknown dims are -1 (as in onnxruntime-web) and named ones strings: both default to 1.
      const dims = m.shape.map((d) => (typeof d === "number" && d >= 0 ? d : 1)).join(",");
      return `<p class="feed">${esc(m.name)}: random with dims <input data-i="${i}" class="dims" value="${dims}" size="16">
        or .npy <input type="file" data-i="${i}" class="npy" accept=".npy"></p>`;
    })
    .join("");
}

async function buildFeeds(session) {
  const feeds = {};
  for (const [i, m] of session.inputMetadata.entries()) {
    const file = document.querySelector(`.npy[data-i="${i}"]`).files[0];
    if (file) {
      feeds[m.name] = parseNpy(await file.arrayBuffer());
    } else {
      const dims = document.querySelector(`.dims[data-i="${i}"]`).value.split(",").filter((s) => s.trim()).map(Number);
      if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`dims of ${m.name} must be non-negative integers`);
      feeds[m.name] = randomTensor(m.type, dims);
    }
  }
  return feeds;
}

function summary(t) {
  const n = t.data.length;
  let text = `${esc(t.type)} [${t.dims.join(", ")}]`;
  if (t.type !== "string" && n && typeof t.data[0] === "number") {
    let min = Infinity, max = -Infinity, sum = 0;
    for (const v of t.data) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    text += ` min ${min.toPrecision(4)} max ${max.toPrecision(4)} mean ${(sum / n).toPrecision(4)}`;
  }
  const head = Array.from(t.data.slice(0, 8), (v) => (typeof v === "number" ? +v.toPrecision(4) : String(v)));
  return `${text}<br><code>${esc(head.join(", "))}${n > 8 ? ", …" : ""}</code>`;
}

function renderResults(session, outputs) {
  const { runMs, totalMs, profile } = session.lastRun;
  let html = `<p>Run: ${runMs.toFixed(2)} ms in Python, ${totalMs.toFixed(1)} ms round trip.</p><table id="outputs">`;
  for (const [name, t] of Object.entries(outputs)) html += `<tr><td>${esc(name)}</td><td>${summary(t)}</td></tr>`;
  html += "</table>";
  if (profile && profile.length) {
    const total = profile.reduce((a, r) => a + r.ms, 0);
    const rows = [...profile].sort((a, b) => b.ms - a.ms).slice(0, 100);
    html += `<h3>Per-node profile (${profile.length} nodes, ${total.toFixed(2)} ms)</h3><table id="profile">
      <tr><th>node</th><th>op</th><th>provider</th><th>ms</th><th>%</th></tr>`;
    for (const r of rows) {
      html += `<tr><td>${esc(r.node)}</td><td>${esc(r.op)}</td><td>${esc(r.provider)}</td><td>${r.ms.toFixed(3)}</td><td>${((100 * r.ms) / total).toFixed(1)}</td></tr>`;
    }
    html += "</table>";
  }
  $("own-results").innerHTML = html;
}

$("model-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  e.target.value = ""; // choosing the same file again reloads it
  clearError();
  $("run-own").disabled = true;
  $("own-results").innerHTML = "";
  try {
    if (state.ownSession) await state.ownSession.release();
    state.ownSession = null;
    const bytes = new Uint8Array(await file.arrayBuffer());
    state.ownSession = await InferenceSession.create(bytes, {
      executionProviders: [$("provider").value],
      enableProfiling: true,
      onProgress,
    });
    ready(`Loaded ${file.name}.`);
    renderModelInfo(state.ownSession);
    $("run-own").disabled = false;
  } catch (err) {
    showError(err);
    $("model-info").innerHTML = "";
  }
});

$("run-own").addEventListener("click", async () => {
  clearError();
  $("own-results").innerHTML = "<p>Running…</p>";
  try {
    const session = state.ownSession;
    const outputs = await session.run(await buildFeeds(session));
    renderResults(session, outputs);
  } catch (err) {
    showError(err);
  }
});

clearPad();
loadDigits("numpy");
