"""Make ``wasm_rt/web/wasm_rt.global.js``: the ES module ``wasm_rt.js`` as a classic script
that defines the global ``ort``, as onnxruntime-web's ``ort.min.js`` does.

The module has no imports, so the classic build is the same code inside one function:
``export`` keywords dropped, ``import.meta.url`` replaced by the script's own URL, and the
exported names gathered into ``globalThis.ort``. Run ``python -m wasm_rt.site.global_js``
after editing ``wasm_rt.js``; ``tests/browser/test_ortweb_compat_browser.py`` checks the
file is current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parents[1] / "web"
MODULE = WEB / "wasm_rt.js"
GLOBAL = WEB / "wasm_rt.global.js"

_EXPORT = re.compile(r"^export (?:async )?(?:const|let|class|function) (\w+)", re.MULTILINE)

HEADER = """\
// wasm_rt as a classic script: defines the global `ort` (as onnxruntime-web's ort.min.js).
//   <script src="wasm_rt.global.js"></script>
//   <script> const session = await ort.InferenceSession.create("model.onnx"); </script>
// GENERATED from wasm_rt.js by `python -m wasm_rt.site.global_js`; edit wasm_rt.js instead.
(() => {
"use strict";
// Where this script was loaded from (what import.meta.url is to the module).
const SCRIPT_URL = (typeof document !== "undefined" && document.currentScript?.src) || self.location.href;
"""


def render(source: str) -> str:
    """The classic-script text for the module text ``source``."""
    if re.search(r"^\s*import\s", source, re.MULTILINE):
        raise ValueError("wasm_rt.js has an import statement; the classic build cannot inline it")
    names = _EXPORT.findall(source)
    body = source.replace("import.meta.url", "SCRIPT_URL")
    body = re.sub(r"^export default ", "const DEFAULT_EXPORT = ", body, flags=re.MULTILINE)
    body = re.sub(r"^export ", "", body, flags=re.MULTILINE)
    footer = (
        f"\nglobalThis.ort = {{ ...DEFAULT_EXPORT, {', '.join(names)}, default: DEFAULT_EXPORT }};\n"
        "})();\n"
    )
    return HEADER + body + footer


def main() -> int:
    GLOBAL.write_text(render(MODULE.read_text()))
    print(f"wrote {GLOBAL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
