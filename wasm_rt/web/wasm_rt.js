// wasm_rt: ONNX inference in the browser, with the onnxruntime-web API.
//
//   import * as ort from "./wasm_rt.js";   // instead of "onnxruntime-web"
//   const session = await ort.InferenceSession.create("model.onnx", { executionProviders: ["wasm"] });
//   const out = await session.run({ x: new ort.Tensor("float32", data, [1, 3]) });
//
// The runtime (Pyodide + numpy + the wasm_rt wheel) lives in one Web Worker shared by
// all sessions of the page. Typed arrays are transferred to and from it, not cloned.
// wasm_rt.global.js is this module as a classic script defining the global `ort`.

const ORT_API_VERSION = "1.30.0"; // the onnxruntime-web API this module follows
const WASM_RT_VERSION = "0.1.0";

const HAS_FLOAT16_ARRAY = typeof globalThis.Float16Array === "function";

// Element type -> typed array, as onnxruntime-web: float16 is a Float16Array where the
// browser has one, else a Uint16Array of IEEE half bits; (u)int4 are packed two per byte.
const TYPED_ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: HAS_FLOAT16_ARRAY ? globalThis.Float16Array : Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
  int4: Uint8Array,
  uint4: Uint8Array,
};

// typed array -> element type when `new Tensor(data, dims)` infers it (bool and the
// 4-bit types are never inferred, as in onnxruntime-web).
const INFERRED_TYPES = new Map([
  [Float32Array, "float32"], [Uint8Array, "uint8"], [Int8Array, "int8"], [Uint16Array, "uint16"],
  [Int16Array, "int16"], [Int32Array, "int32"], [Float64Array, "float64"], [Uint32Array, "uint32"],
  [BigInt64Array, "int64"], [BigUint64Array, "uint64"],
]);
if (HAS_FLOAT16_ARRAY) INFERRED_TYPES.set(globalThis.Float16Array, "float16");

const PROVIDERS = { numpy: "numpy", cpu: "numpy", wasm: "numpy", webgpu: "webgpu" };

// ---- env ----------------------------------------------------------------------------

const LOG_LEVELS = ["verbose", "info", "warning", "error", "fatal"];
const warned = new Set();

/** console.warn once per key, unless env.logLevel is "error" or "fatal". */
function warnOnce(key, message) {
  if (warned.has(key)) return;
  warned.add(key);
  if (LOG_LEVELS.indexOf(env.logLevel) <= 2) console.warn(`wasm_rt: ${message}`);
}

// A flags object (env.wasm, env.webgpu, env.webgl) that accepts every setting and warns
// once, naming it, when one that has no meaning here is set.
// `agrees`: values that describe what wasm_rt does anyway (no warning for those).
function flags(group, meaningless, reason, agrees = {}) {
  return new Proxy({}, {
    set(target, key, value) {
      const same = key in agrees && agrees[key] === value;
      if (!same && (meaningless.includes(key) || meaningless.includes("*"))) {
        warnOnce(`env.${group}.${String(key)}`, `env.${group}.${String(key)} has no effect: ${reason}`);
      }
      target[key] = value;
      return true;
    },
  });
}

let logLevelValue = "warning";

/**
 * onnxruntime-web's `env`, plus wasm_rt's own settings:
 * siteURL: where the site (manifest.json, worker.js, pyodide/) lives; defaults to this
 * module's folder.
 * abortWithoutIsolation: what `run(feeds, {signal})` does on abort when the page is not
 * cross-origin isolated (no SharedArrayBuffer, so the busy worker cannot be told to stop):
 * "terminate" (default) ends the worker, which stops the run at once but loses every session
 * of the page (their next call rejects with WorkerDiedError); "detach" leaves the run to
 * finish in the worker and drops its result (later calls wait for it).
 */
export const env = {
  siteURL: new URL("./", import.meta.url).href,
  abortWithoutIsolation: "terminate",
  wasm: flags(
    "wasm",
    ["numThreads", "simd", "proxy", "wasmPaths", "initTimeout", "trace", "wasmBinary"],
    "wasm_rt runs Pyodide in its own worker, single-threaded, from env.siteURL",
    { numThreads: 1, proxy: true, simd: true },
  ),
  webgpu: flags(
    "webgpu",
    ["profiling", "powerPreference", "forceFallbackAdapter", "validateInputContent", "adapter", "device"],
    "the webgpu provider requests its own adapter and device inside the worker",
  ),
  webgl: flags("webgl", ["*"], "wasm_rt has no WebGL provider"),
  versions: { common: ORT_API_VERSION, wasm_rt: WASM_RT_VERSION },
  set logLevel(value) {
    if (value === undefined) return;
    if (typeof value !== "string" || !LOG_LEVELS.includes(value)) {
      throw new Error(`Unsupported logging level: ${value}`);
    }
    logLevelValue = value;
  },
  get logLevel() {
    return logLevelValue;
  },
  set debug(value) {
    if (value) warnOnce("env.debug", "env.debug has no effect: Python errors always carry their traceback");
    this._debug = !!value;
  },
  get debug() {
    return !!this._debug;
  },
  set trace(value) {
    if (value) warnOnce("env.trace", "env.trace has no effect: use enableProfiling for per-node times");
    this._trace = !!value;
  },
  get trace() {
    return !!this._trace;
  },
};
Object.defineProperty(env, "_debug", { enumerable: false, writable: true, value: false });
Object.defineProperty(env, "_trace", { enumerable: false, writable: true, value: false });

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

// ---- errors -------------------------------------------------------------------------

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

// ---- Tensor -------------------------------------------------------------------------

/** The element count of dims, checking each is a non-negative safe integer (as onnxruntime-web). */
function calculateSize(dims) {
  let size = 1;
  for (let i = 0; i < dims.length; i++) {
    const dim = dims[i];
    if (typeof dim !== "number" || !Number.isSafeInteger(dim)) {
      throw new TypeError(`dims[${i}] must be an integer, got: ${dim}`);
    }
    if (dim < 0) throw new RangeError(`dims[${i}] must be a non-negative integer, got: ${dim}`);
    size *= dim;
  }
  return size;
}

const GPU_LOCATIONS = ["texture", "gpu-buffer", "ml-tensor"];

// CPU data of `new Tensor(type, data, dims)` / `new Tensor(data, dims)`: [type, data, dims].
function cpuArgs(arg0, arg1, arg2) {
  if (typeof arg0 === "string") {
    const type = arg0;
    if (type === "string") {
      if (!Array.isArray(arg1)) throw new TypeError("A string tensor's data must be a string array.");
      return [type, arg1, arg2];
    }
    const Ctor = TYPED_ARRAYS[type];
    if (!Ctor) throw new TypeError(`Unsupported tensor type: ${type}.`);
    if (Array.isArray(arg1)) {
      if ((type === "float16" && Ctor === Uint16Array) || type === "uint4" || type === "int4") {
        throw new TypeError(
          `Creating a ${type} tensor from number array is not supported. Please use ${Ctor.name} as data.`,
        );
      }
      return [type, type.endsWith("int64") ? Ctor.from(arg1, BigInt) : Ctor.from(arg1), arg2];
    }
    if (arg1 instanceof Ctor) return [type, arg1, arg2];
    if (arg1 instanceof Uint8ClampedArray) {
      if (type !== "uint8") throw new TypeError("A Uint8ClampedArray tensor's data must be type of uint8");
      return [type, Uint8Array.from(arg1), arg2];
    }
    if (type === "float16" && arg1 instanceof Uint16Array) {
      // Half bits in a Uint16Array are accepted where Float16Array exists, as onnxruntime-web does.
      return [type, new Ctor(arg1.buffer, arg1.byteOffset, arg1.length), arg2];
    }
    throw new TypeError(`A ${type} tensor's data must be type of ${Ctor}`);
  }
  if (Array.isArray(arg0)) {
    if (arg0.length === 0) throw new TypeError("Tensor type cannot be inferred from an empty array.");
    const first = typeof arg0[0];
    if (first === "string") return ["string", arg0, arg1];
    if (first === "boolean") return ["bool", Uint8Array.from(arg0), arg1];
    throw new TypeError(`Invalid element type of data array: ${first}.`);
  }
  if (arg0 instanceof Uint8ClampedArray) return ["uint8", Uint8Array.from(arg0), arg1];
  const type = arg0 && INFERRED_TYPES.get(arg0.constructor);
  if (type === undefined) throw new TypeError(`Unsupported type for tensor data: ${arg0?.constructor}.`);
  return [type, arg0, arg1];
}

export class Tensor {
  /**
   * new Tensor(type, data, dims?), new Tensor(data, dims?) (type from the typed array), or
   * new Tensor({location: "cpu-pinned"|"gpu-buffer"|"texture"|"ml-tensor", type, dims, ...}).
   */
  constructor(arg0, arg1, arg2) {
    let type;
    let data;
    let dims;
    if (arg0 && typeof arg0 === "object" && "location" in arg0) {
      ({ type, dims } = arg0);
      this._location = arg0.location;
      if (arg0.location === "cpu-pinned") {
        const Ctor = TYPED_ARRAYS[type];
        if (!Ctor) throw new TypeError(`unsupported type "${type}" to create tensor from pinned buffer`);
        if (!(arg0.data instanceof Ctor)) throw new TypeError(`buffer should be of type ${Ctor.name}`);
        data = arg0.data;
      } else if (GPU_LOCATIONS.includes(arg0.location)) {
        // Held as given; run() and getData() download it through `download`.
        this._handle = arg0.texture ?? arg0.gpuBuffer ?? arg0.mlTensor;
        this._download = arg0.download;
        this._dispose = arg0.dispose;
      } else {
        throw new Error(`Tensor constructor: unsupported location '${arg0.location}'`);
      }
    } else {
      [type, data, dims] = cpuArgs(arg0, arg1, arg2);
      if (dims === undefined) dims = [data.length];
      else if (!Array.isArray(dims)) throw new TypeError("A tensor's dims must be a number array");
      this._location = "cpu";
    }
    const size = calculateSize(dims);
    if (data && size !== data.length) {
      const packed = (type === "uint4" || type === "int4") && Math.ceil(size / 2) === data.length;
      if (!packed) throw new Error(`Tensor's size(${size}) does not match data length(${data.length}).`);
    }
    this._data = data;
    this.type = type;
    this.dims = Object.freeze([...dims]);
    this.size = size;
  }

  _ensureValid() {
    if (this._location === "none") throw new Error("The tensor is disposed.");
  }

  /** The CPU data (a typed array, or an array of strings). */
  get data() {
    this._ensureValid();
    if (!this._data) {
      throw new Error(
        "The data is not on CPU. Use `getData()` to download GPU data to CPU, " +
          "or use `texture` or `gpuBuffer` property to access the GPU data directly.",
      );
    }
    return this._data;
  }

  get cpuData() {
    return this.data;
  }

  /** "cpu", "cpu-pinned", "gpu-buffer", "texture", "ml-tensor"; "none" once disposed. */
  get location() {
    return this._location;
  }

  get gpuBuffer() {
    return this._gpu("gpu-buffer", "a WebGPU buffer");
  }

  get texture() {
    return this._gpu("texture", "a WebGL texture");
  }

  get mlTensor() {
    return this._gpu("ml-tensor", "a WebNN MLTensor");
  }

  _gpu(location, what) {
    this._ensureValid();
    if (this._location !== location) throw new Error(`The data is not stored as ${what}.`);
    return this._handle;
  }

  /** The data on the CPU; a GPU tensor is downloaded once (and released with releaseData). */
  async getData(releaseData) {
    this._ensureValid();
    if (this._data) return this._data;
    if (!this._download) throw new Error("The current tensor is not created with a specified data downloader.");
    if (this._downloading) throw new Error("The current tensor is being downloaded.");
    try {
      this._downloading = true;
      const data = await this._download();
      this._download = undefined;
      this._location = "cpu";
      this._data = data;
      if (releaseData && this._dispose) {
        this._dispose();
        this._dispose = undefined;
      }
      return data;
    } finally {
      this._downloading = false;
    }
  }

  /** Drop the data (and a GPU tensor's resource); any later use throws. */
  dispose() {
    if (this._downloading) throw new Error("The current tensor is being downloaded.");
    if (this._dispose) this._dispose();
    this._dispose = this._download = this._handle = this._data = undefined;
    this._location = "none";
  }

  /** A tensor of the same data (not copied) with new dims of the same size. */
  reshape(dims) {
    this._ensureValid();
    if (this._download || this._dispose) throw new Error("Cannot reshape a tensor that owns GPU resource.");
    if (this._location === "cpu-pinned") {
      return new Tensor({ location: "cpu-pinned", type: this.type, data: this._data, dims });
    }
    return new Tensor(this.type, this._data, dims);
  }

  static fromImage(image, options) {
    return tensorFromImage(image, options);
  }

  static fromPinnedBuffer(type, buffer, dims) {
    return new Tensor({ location: "cpu-pinned", type, data: buffer, dims: dims ?? [buffer.length] });
  }

  static fromGpuBuffer(gpuBuffer, { dataType, dims, download, dispose }) {
    return new Tensor({ location: "gpu-buffer", type: dataType ?? "float32", gpuBuffer, dims, download, dispose });
  }

  static fromMLTensor(mlTensor, { dataType, dims, download, dispose }) {
    return new Tensor({ location: "ml-tensor", type: dataType ?? "float32", mlTensor, dims, download, dispose });
  }

  static fromTexture(texture, { width, height, download, dispose }) {
    // RGBA float32 texels, as onnxruntime-web assumes.
    return new Tensor({ location: "texture", type: "float32", texture, dims: [1, height, width, 4], download, dispose });
  }

  toImageData(options) {
    return tensorToImageData(this, options);
  }

  toDataURL(options) {
    const image = tensorToImageData(this, options);
    const canvas = newCanvas(image.width, image.height);
    if (!("toDataURL" in canvas)) throw new Error("toDataURL is not supported");
    canvas.getContext("2d").putImageData(image, 0, 0);
    return canvas.toDataURL();
  }
}

// ---- images <-> tensors ---------------------------------------------------------------

function newCanvas(width, height) {
  if (typeof document !== "undefined") {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    return canvas;
  }
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  throw new Error("Canvas is not supported");
}

// RGBA bytes of `source` drawn at (width, height): scaled when the size differs.
function rgbaPixels(source, width, height) {
  const ctx = newCanvas(width, height).getContext("2d");
  if (!ctx) throw new Error("Can not access image data");
  ctx.drawImage(source, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height).data;
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.crossOrigin = "Anonymous";
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`cannot load image ${url}`));
    img.src = url;
  });
}

// norm {mean, bias}: a number or 3/4 values; the 4th (alpha) defaults to `alpha`.
function normVector(value, fallback, alpha) {
  if (value === undefined) return [fallback, fallback, fallback, fallback];
  if (typeof value === "number") return [value, value, value, value];
  return [value[0], value[1], value[2], value[3] ?? alpha];
}

const CHANNEL_ORDER = { RGB: [0, 1, 2], RGBA: [0, 1, 2, 3], BGR: [2, 1, 0], RBG: [0, 2, 1] };

/**
 * RGBA/RGB bytes -> float32 tensor [1, C, H, W] (NCHW) or [1, H, W, C] (NHWC):
 * value = (pixel + bias) / mean, default mean 255 and bias 0 (values in [0, 1]), as
 * onnxruntime-web's fromImage.
 */
function pixelsToTensor(pixels, width, height, options = {}) {
  const inStep = (options.format ?? "RGBA") === "RGB" ? 3 : 4;
  const format = options.tensorFormat ?? "RGB";
  const order = CHANNEL_ORDER[format];
  if (!order) throw new Error(`unsupported tensorFormat ${format}; use RGB, RGBA, BGR or RBG`);
  const layout = options.tensorLayout ?? "NCHW";
  if (layout !== "NCHW" && layout !== "NHWC") throw new Error(`unsupported tensorLayout ${layout}`);
  const norm = options.norm ?? {};
  const mean = normVector(norm.mean, 255, 255);
  const bias = normVector(norm.bias, 0, 0);
  const channels = order.length;
  const stride = width * height;
  const uint8 = options.dataType === "uint8";
  const out = uint8 ? new Uint8Array(stride * channels) : new Float32Array(stride * channels);
  for (let c = 0; c < channels; c++) {
    const src = order[c];
    if (src === 3 && inStep === 3) continue; // no alpha in the source
    const m = mean[src];
    const b = bias[src];
    for (let i = 0; i < stride; i++) {
      const at = layout === "NCHW" ? c * stride + i : i * channels + c;
      const v = pixels[i * inStep + src];
      out[at] = uint8 ? v : (v + b) / m;
    }
  }
  const dims = layout === "NCHW" ? [1, channels, height, width] : [1, height, width, channels];
  return new Tensor(uint8 ? "uint8" : "float32", out, dims);
}

/**
 * Tensor.fromImage(ImageData | HTMLImageElement | ImageBitmap | url, options): the image is
 * scaled to (resizedWidth, resizedHeight) when given.
 */
async function tensorFromImage(image, options) {
  const isImageData = typeof ImageData !== "undefined" && image instanceof ImageData;
  const isElement = typeof HTMLImageElement !== "undefined" && image instanceof HTMLImageElement;
  const isBitmap = typeof ImageBitmap !== "undefined" && image instanceof ImageBitmap;
  if (isBitmap && options === undefined) {
    throw new Error("Please provide image config with format for Imagebitmap");
  }
  if (typeof image === "string") image = await loadImage(image);
  else if (!isImageData && !isElement && !isBitmap) {
    throw new Error("Input data provided is not supported - aborted tensor creation");
  }
  const opts = { ...(options ?? {}) };
  const srcWidth = image.naturalWidth || image.width;
  const srcHeight = image.naturalHeight || image.height;
  const resized = opts.resizedWidth !== undefined && opts.resizedHeight !== undefined;
  const width = resized ? opts.resizedWidth : srcWidth;
  const height = resized ? opts.resizedHeight : srcHeight;
  let pixels;
  if (image instanceof ImageData && width === image.width && height === image.height) {
    pixels = image.data;
  } else {
    const source = image instanceof ImageData ? await createImageBitmap(image) : image;
    pixels = rgbaPixels(source, width, height);
  }
  opts.format = "RGBA"; // canvas pixels are always RGBA
  return pixelsToTensor(pixels, width, height, opts);
}

/**
 * tensor [1, C, H, W] (or NHWC) -> ImageData: byte = (value - bias) * mean, default mean
 * 255 and bias 0, as onnxruntime-web's toImageData.
 */
function tensorToImageData(tensor, options = {}) {
  const nhwc = options.tensorLayout === "NHWC";
  const [height, width, channels] = nhwc
    ? [tensor.dims[1], tensor.dims[2], tensor.dims[3]]
    : [tensor.dims[2], tensor.dims[3], tensor.dims[1]];
  const format = options.format ?? (channels === 4 ? "RGBA" : "RGB");
  const order = CHANNEL_ORDER[format];
  if (!order || order.length !== channels) throw new Error("Tensor format doesn't match input tensor dims");
  const norm = options.norm ?? {};
  const mean = normVector(norm.mean, 255, 255);
  const bias = normVector(norm.bias, 0, 0);
  const data = tensor.data;
  const stride = width * height;
  const image = new ImageData(width, height);
  for (let i = 0; i < stride; i++) image.data[i * 4 + 3] = 255;
  for (let c = 0; c < channels; c++) {
    const dst = order[c];
    for (let i = 0; i < stride; i++) {
      const v = Number(data[nhwc ? i * channels + c : c * stride + i]);
      image.data[i * 4 + dst] = (v - bias[dst]) * mean[dst];
    }
  }
  return image;
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

// ---- session options ------------------------------------------------------------------

const GRAPH_LEVELS = {
  disabled: "ORT_DISABLE_ALL",
  basic: "ORT_ENABLE_BASIC",
  extended: "ORT_ENABLE_EXTENDED",
  layout: "ORT_ENABLE_LAYOUT",
  all: "ORT_ENABLE_ALL",
};
const OUTPUT_LOCATIONS = ["cpu", "cpu-pinned", "gpu-buffer", "ml-tensor"];
// Options accepted for onnxruntime-web code that have no effect here.
const IGNORED_OPTIONS = {
  enableCpuMemArena: "numpy allocates every array",
  enableMemPattern: "numpy allocates every array",
  enableGraphCapture: "there is no graph capture",
  intraOpNumThreads: "Pyodide is single-threaded",
  interOpNumThreads: "Pyodide is single-threaded",
  optimizedModelFilePath: "the worker has no file the page could read",
};

/**
 * The execution providers to use, as onnxruntime-web resolves them: names (or {name, ...})
 * this runtime lacks, e.g. "webnn", are removed with a warning; none left is an error.
 */
function resolveProviders(list) {
  const requested = (list ?? []).map((p) => (typeof p === "string" ? p : p?.name));
  if (requested.length === 0) return ["numpy"];
  const kept = [];
  const missing = [];
  for (const name of requested) {
    if (name in PROVIDERS) kept.push(PROVIDERS[name]);
    else missing.push(name);
  }
  if (kept.length === 0) {
    throw new Error(
      `no available backend found. ERR: ${missing.map((n) => `[${n}] backend not found.`).join(", ")}`,
    );
  }
  for (const name of missing) {
    console.warn(
      `removing requested execution provider "${name}" from session options because it is not available: ` +
        "backend not found.",
    );
  }
  return [...new Set(kept)];
}

// {session: {a: "1"}} -> [["session.a", "1"]], as onnxruntime-web flattens `extra`.
function flattenExtra(extra, prefix = "", seen = new WeakSet(), out = []) {
  if (typeof extra !== "object" || extra === null) {
    throw new Error(`Extra options must be an object: ${extra}`);
  }
  if (seen.has(extra)) throw new Error("Circular reference in options");
  seen.add(extra);
  for (const [key, value] of Object.entries(extra)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "object") flattenExtra(value, name, seen, out);
    else if (typeof value === "string" || typeof value === "number") out.push([name, value.toString()]);
    else if (typeof value === "boolean") out.push([name, value ? "1" : "0"]);
    else throw new Error(`Can't handle extra config type: ${typeof value}`);
  }
  return out;
}

function checkLevel(value, what) {
  if (value === undefined) return 2;
  if (!Number.isInteger(value) || value < 0 || value > 4) throw new Error(`${what} is not valid: ${value}`);
  return value;
}

/** SessionOptions -> what the worker's Python session takes; invalid values throw as in onnxruntime-web. */
function sessionOptionsForWorker(options) {
  const level = options.graphOptimizationLevel ?? "all";
  if (!(level in GRAPH_LEVELS)) throw new Error(`unsupported graph optimization level: ${level}`);
  const mode = options.executionMode ?? "sequential";
  if (mode !== "sequential" && mode !== "parallel") throw new Error(`unsupported execution mode: ${mode}`);
  const logSeverityLevel = checkLevel(options.logSeverityLevel, "log severity level");
  checkLevel(options.logVerbosityLevel ?? 0, "log verbosity level");
  const freeDims = {};
  for (const [name, value] of Object.entries(options.freeDimensionOverrides ?? {})) {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw new Error(`free dimension override value must be a non-negative integer: ${value}`);
    }
    freeDims[name] = value;
  }
  if (options.enableGraphCapture !== undefined && typeof options.enableGraphCapture !== "boolean") {
    throw new Error(`enableGraphCapture must be a boolean value: ${options.enableGraphCapture}`);
  }
  const where = options.preferredOutputLocation;
  for (const location of typeof where === "string" ? [where] : Object.values(where ?? {})) {
    if (!OUTPUT_LOCATIONS.includes(location)) throw new Error(`Not supported preferred output location: ${location}.`);
    if (location !== "cpu") {
      warnOnce("preferredOutputLocation", `preferredOutputLocation "${location}" is ignored: outputs arrive on the CPU`);
    }
  }
  for (const [key, reason] of Object.entries(IGNORED_OPTIONS)) {
    if (options[key]) warnOnce(`option.${key}`, `session option ${key} has no effect: ${reason}`);
  }
  if (mode === "parallel") warnOnce("option.executionMode", "executionMode \"parallel\" runs nodes in order here");
  const config = options.extra === undefined ? [] : flattenExtra(options.extra);
  for (const [key] of config) {
    warnOnce(`extra.${key}`, `session option extra "${key}" goes to SessionOptions.add_session_config_entry;` +
      " keys wasm_rt does not read (most of onnxruntime's) are kept and have no effect");
  }
  return {
    graphOptimizationLevel: GRAPH_LEVELS[level],
    executionMode: mode === "parallel" ? "ORT_PARALLEL" : "ORT_SEQUENTIAL",
    logSeverityLevel,
    logId: typeof options.logId === "string" ? options.logId : "",
    freeDimensionOverrides: freeDims,
    config,
    enableProfiling: !!options.enableProfiling,
  };
}

async function fileBytes(data) {
  if (typeof data === "string" || data instanceof URL) {
    const res = await fetch(new URL(data, globalThis.location?.href ?? env.siteURL));
    if (!res.ok) throw new Error(`failed to load external data file: ${data}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  if (typeof Blob !== "undefined" && data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  throw new TypeError("externalData: data must be a URL string, a Blob, an ArrayBuffer or a Uint8Array");
}

/** options.externalData ([{path, data}] or [url]) -> [{path, bytes}] loaded in the page. */
async function loadExternalData(list) {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new TypeError("externalData must be an array");
  return Promise.all(
    list.map(async (file) => {
      const path = typeof file === "string" ? file : file.path;
      const bytes = await fileBytes(typeof file === "string" ? file : file.data);
      return { path, bytes: bytes.buffer };
    }),
  );
}

// create(pathOrBuffer, [byteOffset, [byteLength]], [options]) arguments, as onnxruntime-web.
function createArgs(arg0, arg1, arg2, arg3) {
  const optionsAt = (value) => {
    if (typeof value === "object" && value !== null) return value;
    if (value !== undefined) throw new TypeError("'options' must be an object.");
    return {};
  };
  if (typeof arg0 === "string" || arg0 instanceof URL) return [arg0, optionsAt(arg1)];
  if (arg0 instanceof Uint8Array) return [arg0, optionsAt(arg1)];
  const isShared = typeof SharedArrayBuffer !== "undefined" && arg0 instanceof SharedArrayBuffer;
  if (!(arg0 instanceof ArrayBuffer || isShared)) {
    throw new TypeError("Unexpected argument[0]: must be 'path' or 'buffer'.");
  }
  if (typeof arg1 !== "number") return [new Uint8Array(arg0), optionsAt(arg1)];
  const byteOffset = arg1;
  if (!Number.isSafeInteger(byteOffset)) throw new RangeError("'byteOffset' must be an integer.");
  if (byteOffset < 0 || byteOffset >= arg0.byteLength) {
    throw new RangeError(`'byteOffset' is out of range [0, ${arg0.byteLength}).`);
  }
  let byteLength = arg0.byteLength - byteOffset;
  let options = {};
  if (typeof arg2 === "number") {
    byteLength = arg2;
    if (!Number.isSafeInteger(byteLength)) throw new RangeError("'byteLength' must be an integer.");
    if (byteLength <= 0 || byteOffset + byteLength > arg0.byteLength) {
      throw new RangeError(`'byteLength' is out of range (0, ${arg0.byteLength - byteOffset}].`);
    }
    options = optionsAt(arg3);
  } else if (arg2 !== undefined) {
    throw new TypeError("'byteLength' must be a number.");
  }
  return [new Uint8Array(arg0, byteOffset, byteLength), options];
}

// The model as a message field: {url} or {bytes} (a copy, transferred; the caller keeps its own).
function modelSource(urlOrBytes, msg, transfer) {
  if (typeof urlOrBytes === "string" || urlOrBytes instanceof URL) {
    msg.url = new URL(urlOrBytes, globalThis.location?.href ?? env.siteURL).href;
  } else if (urlOrBytes instanceof ArrayBuffer || ArrayBuffer.isView(urlOrBytes)) {
    const view = ArrayBuffer.isView(urlOrBytes)
      ? new Uint8Array(urlOrBytes.buffer, urlOrBytes.byteOffset, urlOrBytes.byteLength)
      : new Uint8Array(urlOrBytes);
    msg.bytes = view.slice().buffer;
    transfer.push(msg.bytes);
  } else {
    throw new TypeError("a model must be a URL string, an ArrayBuffer or a Uint8Array");
  }
}

// run(feeds, [fetches], [options]) arguments, as onnxruntime-web tells fetches from options:
// -> [fetches {name: Tensor|null}, options, explicit].
function runArgs(outputNames, arg1, arg2) {
  const fetches = {};
  const optionsAt = (value) => {
    if (typeof value === "object" && value !== null) return value;
    if (value !== undefined) throw new TypeError("'options' must be an object.");
    return {};
  };
  if (arg1 === undefined) return [fetches, {}, false];
  if (typeof arg1 !== "object") throw new TypeError("Unexpected argument[1]: must be 'fetches' or 'options'.");
  if (arg1 === null) throw new TypeError("Unexpected argument[1]: cannot be null.");
  if (arg1 instanceof Tensor) throw new TypeError("'fetches' cannot be a Tensor");
  if (Array.isArray(arg1)) {
    if (arg1.length === 0) throw new TypeError("'fetches' cannot be an empty array.");
    for (const name of arg1) {
      if (typeof name !== "string") throw new TypeError("'fetches' must be a string array or an object.");
      if (!outputNames.includes(name)) throw new RangeError(`'fetches' contains invalid output name: ${name}.`);
      fetches[name] = null;
    }
    return [fetches, optionsAt(arg2), true];
  }
  const keys = Object.getOwnPropertyNames(arg1);
  let isFetches = false;
  for (const name of outputNames) {
    if (keys.includes(name) && (arg1[name] === null || arg1[name] instanceof Tensor)) {
      isFetches = true;
      fetches[name] = arg1[name];
    }
  }
  if (isFetches) return [fetches, optionsAt(arg2), true];
  return [fetches, arg1, false];
}

function checkRunOptions(options) {
  if (options.logSeverityLevel !== undefined) checkLevel(options.logSeverityLevel, "log severity level");
  const verbosity = options.logVerbosityLevel;
  if (verbosity !== undefined && (typeof verbosity !== "number" || !Number.isInteger(verbosity))) {
    throw new Error(`log verbosity level is not valid: ${verbosity}`);
  }
  if (options.extra !== undefined) flattenExtra(options.extra);
  const timeLimitMs = options.timeLimitMs ?? null;
  if (timeLimitMs !== null && !(timeLimitMs > 0)) throw new RangeError("timeLimitMs must be a positive number");
  return timeLimitMs;
}

// Copy an output into a caller's pre-allocated tensor (same type and dims).
function fillTensor(name, target, out) {
  if (target.type !== out.type || target.dims.join() !== out.dims.join()) {
    throw new Error(
      `pre-allocated output '${name}' is ${target.type}[${target.dims}], the model gave ${out.type}[${out.dims}]`,
    );
  }
  if (target.location !== "cpu" && target.location !== "cpu-pinned") {
    throw new Error(`pre-allocated output '${name}' is on '${target.location}'; only CPU tensors can be filled here`);
  }
  if (out.type === "string") target.data.splice(0, target.data.length, ...out.data);
  else target.data.set(out.data);
  return target;
}

// ---- sessions ---------------------------------------------------------------------

export class InferenceSession {
  /**
   * InferenceSession.create(url | Uint8Array | ArrayBuffer [, byteOffset [, byteLength]] [, options]).
   * options: onnxruntime-web's SessionOptions (executionProviders, graphOptimizationLevel,
   * freeDimensionOverrides, executionMode, logSeverityLevel, enableProfiling, externalData,
   * preferredOutputLocation, extra, ...) and onProgress({stage: "pyodide"|"packages"|"model"|
   * "session", loaded, total, message}).
   */
  static async create(arg0, arg1, arg2, arg3) {
    const [model, options] = createArgs(arg0, arg1, arg2, arg3);
    const sessionOptions = sessionOptionsForWorker(options);
    const executionProviders = resolveProviders(options.executionProviders);
    const externalData = await loadExternalData(options.externalData);
    const ctx = worker();
    const sessionId = nextSessionId++;
    const msg = {
      op: "create",
      sessionId,
      siteURL: env.siteURL,
      options: { ...sessionOptions, executionProviders, externalData },
    };
    const transfer = externalData.map((f) => f.bytes);
    modelSource(model, msg, transfer);
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
                  providers: options.providers ? resolveProviders(options.providers) : null };
    const transfer = [];
    modelSource(urlOrBytes, msg, transfer);
    return call(worker(), msg, { transfer, onProgress: options.onProgress, signal: options.signal });
  }

  constructor(ctx, sessionId, meta, options) {
    this._ctx = ctx;
    this._id = sessionId;
    this._released = false;
    this._profiling = !!options.enableProfiling;
    this._profile = [];
    this.inputNames = meta.inputNames;
    this.outputNames = meta.outputNames;
    this.inputMetadata = meta.inputMetadata;
    this.outputMetadata = meta.outputMetadata;
    this.providers = meta.providers;
    this.loadMs = meta.loadMs;
    this.lastRun = null; // {runMs, workerMs, totalMs, profile}
  }

  /**
   * run(feeds, fetches?, options?) or run(feeds, options) -> {name: Tensor}, as
   * onnxruntime-web. fetches: output names, or {name: null | a pre-allocated Tensor to fill}.
   * options: onnxruntime-web's RunOptions (logSeverityLevel, tag, extra ...) and wasm_rt's
   * {signal} (an AbortSignal: the run rejects with its reason, a DOMException "AbortError",
   * and stops between nodes), {timeLimitMs} (the run fails with PythonError type
   * "RunTimeout"), {profile}.
   */
  async run(feeds, arg1, arg2) {
    if (this._released) throw new Error("this session was released; create a new one");
    if (this._ctx.dead) throw new WorkerDiedError("the session was lost with its worker");
    if (typeof feeds !== "object" || feeds === null || feeds instanceof Tensor || Array.isArray(feeds)) {
      throw new TypeError(
        "'feeds' must be an object that use input names as keys and OnnxValue as corresponding values.",
      );
    }
    const [fetches, runOptions, explicit] = runArgs(this.outputNames, arg1, arg2);
    for (const name of this.inputNames) {
      if (typeof feeds[name] === "undefined") throw new Error(`input '${name}' is missing in 'feeds'.`);
    }
    const timeLimitMs = checkRunOptions(runOptions);
    const wire = [];
    const transfer = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      if (!(tensor instanceof Tensor)) throw new TypeError(`feed "${name}" is not a Tensor`);
      let data = tensor.location === "cpu" || tensor.location === "cpu-pinned" ? tensor.data : await tensor.getData();
      if (tensor.type !== "string") {
        data = data.slice(); // the caller keeps its tensor; the copy is transferred
        transfer.push(data.buffer);
      }
      wire.push({ name, type: tensor.type, dims: [...tensor.dims], data });
    }
    const t0 = performance.now();
    const result = await call(
      this._ctx,
      {
        op: "run",
        sessionId: this._id,
        feeds: wire,
        fetches: explicit ? Object.keys(fetches) : null,
        profile: this._profiling || !!runOptions.profile,
        timeLimitMs,
      },
      { transfer, signal: runOptions.signal },
    );
    const out = {};
    for (const o of result.outputs) {
      const data = o.type === "float16" && HAS_FLOAT16_ARRAY
        ? new globalThis.Float16Array(o.data.buffer, o.data.byteOffset, o.data.length) : o.data;
      const tensor = new Tensor(o.type, data, o.dims);
      out[o.name] = fetches[o.name] ? fillTensor(o.name, fetches[o.name], tensor) : tensor;
    }
    this.lastRun = {
      runMs: result.runMs,
      workerMs: result.workerMs,
      totalMs: performance.now() - t0,
      profile: result.profile,
    };
    if (result.profile) this._profile.push(...result.profile);
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

  /**
   * Stop profiling. onnxruntime-web writes its profile to the console and returns nothing;
   * here the per-node rows gathered since profiling started are logged and also returned.
   */
  endProfiling() {
    this._profiling = false;
    const rows = this._profile;
    this._profile = [];
    if (rows.length) console.log("wasm_rt profile", rows);
    return rows.length ? rows : (this.lastRun?.profile ?? null);
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
