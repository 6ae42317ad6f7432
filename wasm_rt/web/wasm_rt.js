// wasm_rt: ONNX inference in the browser, with the onnxruntime-web API.
//
//   import { InferenceSession, Tensor } from "./wasm_rt.js";   // instead of "onnxruntime-web"
//   const session = await InferenceSession.create("model.onnx", { executionProviders: ["numpy"] });
//   const out = await session.run({ x: new Tensor("float32", data, [1, 3]) });
//
// The runtime (Pyodide + numpy + the wasm_rt wheel) lives in one Web Worker shared by
// all sessions of the page. Typed arrays are transferred to and from it, not cloned.

const TYPED_ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array, // raw IEEE half bits, as onnxruntime-web does without Float16Array
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

const PROVIDERS = { numpy: "numpy", cpu: "numpy", wasm: "numpy", webgpu: "webgpu" };

/**
 * Where the site (manifest.json, worker.js, pyodide/) lives; defaults to this module's folder.
 * abortWithoutIsolation: what `run(feeds, {signal})` does on abort when the page is not
 * cross-origin isolated (no SharedArrayBuffer, so the busy worker cannot be told to stop):
 * "terminate" (default) ends the worker, which stops the run at once but loses every session
 * of the page (their next call rejects with WorkerDiedError); "detach" leaves the run to
 * finish in the worker and drops its result (later calls wait for it).
 */
export const env = {
  siteURL: new URL("./", import.meta.url).href,
  logLevel: "warning",
  abortWithoutIsolation: "terminate",
};

/** True when the page can share memory with the worker (COOP/COEP headers are set). */
export function canCancelCooperatively() {
  return !!globalThis.crossOriginIsolated && typeof SharedArrayBuffer === "function";
}

function abortError(signal) {
  // As fetch does: the signal's reason (a DOMException "AbortError" unless the caller
  // gave one, "TimeoutError" for AbortSignal.timeout()).
  if (signal?.reason !== undefined) return signal.reason;
  return new DOMException("The operation was aborted.", "AbortError");
}

/** A Python exception raised inside the worker; `type` is the Python class name. */
export class PythonError extends Error {
  constructor({ type, message, traceback }) {
    super(`${type}: ${message}`);
    this.name = "PythonError";
    this.type = type;
    this.pythonMessage = message;
    this.traceback = traceback || "";
  }
}

/** The worker stopped (crash, out of memory, terminated); its sessions are gone. */
export class WorkerDiedError extends Error {
  constructor(reason) {
    super(`wasm_rt worker died: ${reason}. Pending calls were rejected; create the session again.`);
    this.name = "WorkerDiedError";
  }
}

function sizeOf(dims) {
  return dims.reduce((a, b) => a * b, 1);
}

export class Tensor {
  /** new Tensor(type, data, dims) or new Tensor(data, dims) (type from the typed array). */
  constructor(type, data, dims) {
    if (typeof type !== "string") {
      [data, dims] = [type, data];
      type = Object.keys(TYPED_ARRAYS).find((t) => data instanceof TYPED_ARRAYS[t]) || "string";
      if (data instanceof Uint16Array) type = "uint16";
    }
    dims = dims ?? [data.length];
    if (type === "string") {
      if (!Array.isArray(data)) throw new TypeError("a string tensor takes an array of strings");
    } else {
      const Ctor = TYPED_ARRAYS[type];
      if (!Ctor) throw new TypeError(`unsupported tensor type ${type}`);
      if (Array.isArray(data)) data = type.endsWith("int64") ? Ctor.from(data, BigInt) : Ctor.from(data);
      if (!(data instanceof Ctor)) throw new TypeError(`a ${type} tensor takes a ${Ctor.name}`);
    }
    if (sizeOf(dims) !== data.length) {
      throw new RangeError(`tensor dims [${dims}] need ${sizeOf(dims)} elements, data has ${data.length}`);
    }
    this.type = type;
    this.data = data;
    this.dims = Object.freeze([...dims]);
    this.size = data.length;
    this.location = "cpu";
  }

  get cpuData() {
    return this.data;
  }

  async getData() {
    return this.data;
  }

  dispose() {
    this.data = null;
  }
}

// ---- the shared worker ------------------------------------------------------------

let current = null; // {worker, pending: Map(id -> {resolve, reject, onProgress}), dead}
let nextId = 1;
let nextSessionId = 1;

function startWorker() {
  const worker = new Worker(new URL("worker.js", env.siteURL), { type: "module", name: "wasm_rt" });
  const ctx = { worker, pending: new Map(), dead: false };
  const die = (reason) => {
    if (ctx.dead) return;
    ctx.dead = true;
    worker.terminate();
    if (current === ctx) current = null;
    const error = new WorkerDiedError(reason);
    for (const { reject } of ctx.pending.values()) reject(error);
    ctx.pending.clear();
  };
  ctx.die = die;
  worker.onerror = (e) => {
    e.preventDefault();
    die(e.message || "uncaught error in the worker");
  };
  worker.onmessageerror = () => die("a message from the worker could not be read");
  worker.onmessage = (event) => {
    const msg = event.data;
    const entry = ctx.pending.get(msg.id);
    if (!entry) return;
    if (msg.progress) {
      if (entry.onProgress) {
        try {
          entry.onProgress(msg.progress);
        } catch (err) {
          console.error("onProgress callback failed", err);
        }
      }
      return;
    }
    ctx.pending.delete(msg.id);
    if (msg.ok) entry.resolve(msg.result);
    else entry.reject(msg.python ? new PythonError(msg.error) : jsError(msg.error));
    if (msg.fatal) die(`the Python interpreter is unusable after: ${msg.error.message}`);
  };
  current = ctx;
  return ctx;
}

function jsError(error) {
  const err = new Error(error?.message || "unknown worker error");
  err.name = error?.type || "Error";
  return err;
}

function call(ctx, msg, { transfer = [], onProgress, signal } = {}) {
  if (ctx.dead) return Promise.reject(new WorkerDiedError("it had already stopped"));
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const id = nextId++;
  let flag = null;
  if (signal && canCancelCooperatively()) {
    // Python polls this flag between nodes (through the JS FFI) and stops the run.
    flag = new Int32Array(new SharedArrayBuffer(4));
    msg = { ...msg, cancelFlag: flag };
  }
  return new Promise((resolve, reject) => {
    let onAbort = null;
    const settle = (fn) => (value) => {
      if (onAbort) signal.removeEventListener("abort", onAbort);
      fn(value);
    };
    ctx.pending.set(id, { resolve: settle(resolve), reject: settle(reject), onProgress });
    if (signal) {
      onAbort = () => {
        if (!ctx.pending.has(id)) return;
        ctx.pending.delete(id); // the worker's late reply for this id is ignored
        reject(abortError(signal));
        if (flag) Atomics.store(flag, 0, 1);
        else if (env.abortWithoutIsolation !== "detach") {
          ctx.die("terminated to abort a run (the page is not cross-origin isolated)");
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
    }
    ctx.worker.postMessage({ ...msg, id }, transfer);
  });
}

function worker() {
  return current && !current.dead ? current : startWorker();
}

function providerNames(list) {
  return (list && list.length ? list : ["numpy"]).map((p) => {
    const name = typeof p === "string" ? p : p.name;
    if (!(name in PROVIDERS)) {
      throw new TypeError(`unknown execution provider "${name}"; use one of ${Object.keys(PROVIDERS).join(", ")}`);
    }
    return PROVIDERS[name];
  });
}

// ---- sessions ---------------------------------------------------------------------

export class InferenceSession {
  /**
   * InferenceSession.create(urlOrBytes, {executionProviders, onProgress, enableProfiling})
   * urlOrBytes: a URL string (relative to the page), an ArrayBuffer or a Uint8Array.
   * onProgress({stage: "pyodide"|"packages"|"model"|"session", loaded, total, message}).
   */
  static async create(urlOrBytes, options = {}) {
    const executionProviders = providerNames(options.executionProviders);
    const ctx = worker();
    const sessionId = nextSessionId++;
    const msg = {
      op: "create",
      sessionId,
      siteURL: env.siteURL,
      options: { executionProviders, enableProfiling: !!options.enableProfiling },
    };
    const transfer = [];
    if (typeof urlOrBytes === "string" || urlOrBytes instanceof URL) {
      msg.url = new URL(urlOrBytes, globalThis.location?.href ?? env.siteURL).href;
    } else if (urlOrBytes instanceof ArrayBuffer || ArrayBuffer.isView(urlOrBytes)) {
      const view = ArrayBuffer.isView(urlOrBytes)
        ? new Uint8Array(urlOrBytes.buffer, urlOrBytes.byteOffset, urlOrBytes.byteLength)
        : new Uint8Array(urlOrBytes);
      msg.bytes = view.slice().buffer; // the caller keeps its bytes; the copy is transferred
      transfer.push(msg.bytes);
    } else {
      throw new TypeError("InferenceSession.create takes a URL string, an ArrayBuffer or a Uint8Array");
    }
    const meta = await call(ctx, msg, { transfer, onProgress: options.onProgress });
    return new InferenceSession(ctx, sessionId, meta, options);
  }

  /**
   * InferenceSession.inspect(urlOrBytes, {dims, providers}) -> the pre-flight report
   * (wasm_rt.inspect's to_dict(): opsets, opCounts ..., memory.peak_bytes), made from the
   * .onnx alone: external data files are never fetched, so a page can refuse a model
   * before downloading its weights.
   */
  static async inspect(urlOrBytes, options = {}) {
    const msg = { op: "inspect", siteURL: env.siteURL, dims: options.dims || {},
                  providers: options.providers ? providerNames(options.providers) : null };
    const transfer = [];
    if (typeof urlOrBytes === "string" || urlOrBytes instanceof URL) {
      msg.url = new URL(urlOrBytes, globalThis.location?.href ?? env.siteURL).href;
    } else if (urlOrBytes instanceof ArrayBuffer || ArrayBuffer.isView(urlOrBytes)) {
      const view = ArrayBuffer.isView(urlOrBytes)
        ? new Uint8Array(urlOrBytes.buffer, urlOrBytes.byteOffset, urlOrBytes.byteLength)
        : new Uint8Array(urlOrBytes);
      msg.bytes = view.slice().buffer;
      transfer.push(msg.bytes);
    } else {
      throw new TypeError("InferenceSession.inspect takes a URL string, an ArrayBuffer or a Uint8Array");
    }
    return call(worker(), msg, { transfer, onProgress: options.onProgress, signal: options.signal });
  }

  constructor(ctx, sessionId, meta, options) {
    this._ctx = ctx;
    this._id = sessionId;
    this._released = false;
    this._profiling = !!options.enableProfiling;
    this.inputNames = meta.inputNames;
    this.outputNames = meta.outputNames;
    this.inputMetadata = meta.inputMetadata;
    this.outputMetadata = meta.outputMetadata;
    this.providers = meta.providers;
    this.loadMs = meta.loadMs;
    this.lastRun = null; // {runMs, workerMs, totalMs, profile}
  }

  /**
   * run(feeds: {name: Tensor}, fetches?: string[] | {name: null|Tensor}, options?) or
   * run(feeds, options) -> {name: Tensor}, as onnxruntime-web. options: {signal} (an
   * AbortSignal: the run rejects with its reason, a DOMException "AbortError", and stops
   * between nodes), {timeLimitMs} (the run fails with PythonError type "RunTimeout"),
   * {profile}.
   */
  async run(feeds, fetches, runOptions = {}) {
    if (this._released) throw new Error("this session was released; create a new one");
    if (this._ctx.dead) throw new WorkerDiedError("the session was lost with its worker");
    if (fetches && !Array.isArray(fetches) && !this.outputNames.some((n) => n in fetches)) {
      [fetches, runOptions] = [null, fetches]; // run(feeds, options)
    }
    runOptions = runOptions || {};
    const names = Array.isArray(fetches) ? fetches : fetches ? Object.keys(fetches) : null;
    const wire = [];
    const transfer = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      if (!(tensor instanceof Tensor)) throw new TypeError(`feed "${name}" is not a Tensor`);
      let data = tensor.data;
      if (tensor.type !== "string") {
        data = data.slice(); // the caller keeps its tensor; the copy is transferred
        transfer.push(data.buffer);
      }
      wire.push({ name, type: tensor.type, dims: [...tensor.dims], data });
    }
    const t0 = performance.now();
    const timeLimitMs = runOptions.timeLimitMs ?? null;
    if (timeLimitMs !== null && !(timeLimitMs > 0)) throw new RangeError("timeLimitMs must be a positive number");
    const result = await call(
      this._ctx,
      {
        op: "run",
        sessionId: this._id,
        feeds: wire,
        fetches: names,
        profile: this._profiling || !!runOptions.profile,
        timeLimitMs,
      },
      { transfer, signal: runOptions.signal },
    );
    const out = {};
    for (const o of result.outputs) out[o.name] = new Tensor(o.type, o.data, o.dims);
    this.lastRun = {
      runMs: result.runMs,
      workerMs: result.workerMs,
      totalMs: performance.now() - t0,
      profile: result.profile,
    };
    return out;
  }

  /** Free the session inside the worker; the worker stays up for other sessions. */
  async release() {
    if (this._released) return;
    this._released = true;
    if (!this._ctx.dead) await call(this._ctx, { op: "release", sessionId: this._id });
  }

  startProfiling() {
    this._profiling = true;
  }

  endProfiling() {
    this._profiling = false;
    return this.lastRun?.profile ?? null;
  }
}

/** Internal hooks for tests and the demo page. */
export const debug = {
  /** Kill the worker the way a crash would (an uncaught error inside it). */
  crashWorker(reason) {
    if (current && !current.dead) current.worker.postMessage({ op: "crash", reason });
  },
  /** {booted, sessions, ids} of the live worker, or null when none is running. */
  async workerStatus() {
    return current && !current.dead ? call(current, { op: "status" }) : null;
  },
  /** Terminate the worker from the page (works even while it is busy in Python). */
  terminateWorker(reason = "terminated by the page") {
    if (current && !current.dead) current.die(reason);
  },
  /** Run wasm_rt's command line inside the worker (`wasm-rt run --browser`). */
  async cli(argv, files = {}, save = null) {
    return call(worker(), { op: "cli", argv, files, save, siteURL: env.siteURL });
  },
  /** True while a worker is running. */
  get workerAlive() {
    return !!(current && !current.dead);
  },
};

export default { InferenceSession, Tensor, env, debug, PythonError, WorkerDiedError, canCancelCooperatively };
