// wasm_rt Web Worker: boots Pyodide once and runs every session of the page.
//
// Protocol (all messages carry the request `id`):
//   page -> worker  {id, op: "create"|"run"|"inspect"|"release"|"status"|"cli"|"crash", ...}
//                   (run may carry cancelFlag: an Int32Array on a SharedArrayBuffer, and
//                   timeLimitMs)
//   worker -> page  {id, progress: {stage, loaded, total, message}}   (0..n times)
//                   {id, ok: true, result}  or  {id, ok: false, error: {type, message, traceback}}
// Typed arrays cross in both directions as transfers, never as clones.

const state = { pyodide: null, booting: null, bridge: null };

function post(msg, transfer = []) {
  self.postMessage(msg, transfer);
}

function progress(id, stage, loaded, total, message) {
  post({ id, progress: { stage, loaded, total, message } });
}

async function fetchManifest(siteURL) {
  const res = await fetch(new URL("manifest.json", siteURL));
  if (!res.ok) throw new Error(`cannot read the site manifest (${res.status} ${res.url})`);
  return res.json();
}

async function boot(id, siteURL) {
  if (state.bridge) return;
  if (!state.booting) {
    state.booting = (async () => {
      const manifest = await fetchManifest(siteURL);
      const indexURL = new URL(manifest.pyodide.indexURL, siteURL).href;
      progress(id, "pyodide", 0, 1, `Starting Pyodide ${manifest.pyodide.version}`);
      const { loadPyodide } = await import(new URL("pyodide.mjs", indexURL).href);
      const pyodide = await loadPyodide({ indexURL, packages: [] });
      progress(id, "pyodide", 1, 1, "Pyodide started");
      const packages = manifest.packages;
      for (let i = 0; i < packages.length; i++) {
        progress(id, "packages", i, packages.length, `Loading ${packages[i]}`);
        await pyodide.loadPackage(packages[i], { messageCallback: () => {}, checkIntegrity: true });
      }
      progress(id, "packages", packages.length, packages.length, "Packages loaded");
      state.bridge = pyodide.pyimport("wasm_rt.site.worker_bridge");
      state.pyodide = pyodide;
    })();
  }
  try {
    await state.booting;
  } catch (err) {
    state.booting = null; // a later create may try again
    throw err;
  }
}

async function fetchModel(id, url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch model ${url}: HTTP ${res.status}`);
  const total = Number(res.headers.get("Content-Length")) || 0;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks = [];
  let loaded = 0;
  progress(id, "model", 0, total, `Downloading ${url}`);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    progress(id, "model", loaded, total, `Downloading ${url}`);
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return bytes;
}

// Call a Python bridge function with JS values (they arrive as JsProxy objects);
// it returns {"ok": ...} or {"error": {type, message, traceback}} — as a Promise
// for the async ones (create, run: they may wait on the GPU).
function callPython(name, ...args) {
  return state.bridge[name](...args);
}

function toJsAndDestroy(proxy) {
  const js = proxy.toJs({ dict_converter: Object.fromEntries });
  proxy.destroy();
  return js;
}

function unwrapError(result) {
  const err = result.get("error");
  if (err === undefined) return null;
  const js = err.toJs({ dict_converter: Object.fromEntries });
  err.destroy();
  return js;
}

async function handleCreate(msg) {
  await boot(msg.id, msg.siteURL);
  const bytes = msg.bytes ? new Uint8Array(msg.bytes) : await fetchModel(msg.id, msg.url);
  progress(msg.id, "session", 0, 1, "Building session");
  // External data files travel apart from the options, as [path, Uint8Array] pairs.
  const { externalData = [], ...options } = msg.options || {};
  const files = externalData.map((f) => [f.path, new Uint8Array(f.bytes)]);
  const result = await callPython("create", msg.sessionId, bytes, options, files);
  try {
    const error = unwrapError(result);
    if (error) return { error };
    progress(msg.id, "session", 1, 1, "Session ready");
    return { result: toJsAndDestroy(result.get("ok")) };
  } finally {
    result.destroy();
  }
}

async function handleRun(msg) {
  const feeds = msg.feeds.map((f) => {
    const bytes =
      f.type === "string" ? f.data : new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength);
    return [f.name, f.type, f.dims, bytes];
  });
  const t0 = performance.now();
  // The page's AbortSignal, through shared memory: Python calls this between nodes
  // (the worker is busy in Python for the whole run, so no message could get through).
  const flag = msg.cancelFlag;
  const cancelled = flag ? () => Atomics.load(flag, 0) !== 0 : null;
  const result = await callPython(
    "run", msg.sessionId, feeds, msg.fetches || null, !!msg.profile, cancelled, msg.timeLimitMs ?? null,
  );
  const transfer = [];
  try {
    const error = unwrapError(result);
    if (error) return { error };
    const ok = result.get("ok");
    const outputs = [];
    const outs = ok.get("outputs");
    for (const o of outs) {
      const type = o.get("type");
      const dimsProxy = o.get("dims");
      const dims = dimsProxy.toJs();
      dimsProxy.destroy();
      const arr = o.get("data");
      let data;
      if (type === "string") {
        data = arr.toJs();
      } else {
        const buf = arr.getBuffer();
        data = buf.data.slice(); // one copy out of the wasm heap, then transferred
        buf.release();
        transfer.push(data.buffer);
      }
      arr.destroy();
      outputs.push({ name: o.get("name"), type, dims, data });
      o.destroy();
    }
    outs.destroy();
    const profile = ok.get("profile");
    const info = {
      outputs,
      runMs: ok.get("run_ms"),
      workerMs: performance.now() - t0,
      profile: profile ? profile.toJs({ dict_converter: Object.fromEntries }) : null,
    };
    if (profile) profile.destroy();
    ok.destroy();
    return { result: info, transfer };
  } finally {
    result.destroy();
  }
}

function handleRelease(msg) {
  if (!state.bridge) return { result: false };
  const result = callPython("release", msg.sessionId);
  const released = result.get("ok");
  result.destroy();
  return { result: released };
}

function handleStatus() {
  if (!state.bridge) return { result: { sessions: 0, booted: false } };
  const result = callPython("status");
  const ok = result.get("ok");
  const js = ok.toJs({ dict_converter: Object.fromEntries });
  ok.destroy();
  result.destroy();
  return { result: { ...js, booted: true } };
}

// Is the interpreter still usable after a JS-level error (e.g. out of wasm memory)?
function pyodideAlive() {
  try {
    return state.pyodide ? state.pyodide.runPython("1") === 1 : true;
  } catch {
    return false;
  }
}

// `wasm-rt run --browser`: files {pyodidePath: siteURL} are written into Pyodide's
// file system, then wasm_rt.cli runs with the host's arguments.
async function handleCli(msg) {
  await boot(msg.id, msg.siteURL);
  for (const [path, url] of Object.entries(msg.files || {})) {
    const bytes = await fetchModel(msg.id, new URL(url, msg.siteURL).href);
    state.pyodide.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")) || "/");
    state.pyodide.FS.writeFile(path, bytes);
  }
  const result = callPython("cli", msg.argv, msg.save || null);
  try {
    const error = unwrapError(result);
    if (error) return { error };
    return { result: toJsAndDestroy(result.get("ok")) };
  } finally {
    result.destroy();
  }
}

// InferenceSession.inspect: only the .onnx is fetched; external data files never are.
async function handleInspect(msg) {
  await boot(msg.id, msg.siteURL);
  const bytes = msg.bytes ? new Uint8Array(msg.bytes) : await fetchModel(msg.id, msg.url);
  const result = callPython("inspect", bytes, msg.dims || {}, msg.providers || null, msg.url || "<bytes>");
  try {
    const error = unwrapError(result);
    if (error) return { error };
    return { result: toJsAndDestroy(result.get("ok")) };
  } finally {
    result.destroy();
  }
}

const handlers = {
  cli: handleCli,
  create: handleCreate,
  inspect: handleInspect,
  run: handleRun,
  release: handleRelease,
  status: handleStatus,
};

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.op === "crash") {
    // Test hook: an uncaught error kills the worker the way a real crash does.
    setTimeout(() => {
      throw new Error(msg.reason || "deliberate crash requested by the page");
    });
    return;
  }
  const handler = handlers[msg.op];
  try {
    if (!handler) throw new Error(`unknown worker operation ${msg.op}`);
    const { result, error, transfer } = await handler(msg);
    if (error) post({ id: msg.id, ok: false, python: true, error });
    else post({ id: msg.id, ok: true, result }, transfer || []);
  } catch (err) {
    const fatal = !pyodideAlive();
    post({
      id: msg.id,
      ok: false,
      fatal,
      error: { type: err?.name || "Error", message: String(err?.message || err), traceback: err?.stack || "" },
    });
    if (fatal) self.close();
  }
};
