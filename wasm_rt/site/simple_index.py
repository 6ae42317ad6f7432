"""A PEP 503 "simple" package index as static files.

``await micropip.install("wasm_rt", index_urls=[SITE + "simple/"])`` asks for
``simple/wasm_rt/`` (micropip appends the name as given, not normalized), so
each project is written under its normalized name and under every spelling a
user is likely to type.  Static hosts cannot negotiate PEP 691 JSON, so the
pages are HTML; micropip then resolves a relative link against the host only
(it drops the page's path), which is why links are absolute paths built from
``base_path``, the URL path the site is served under.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path


def normalize(name: str) -> str:
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _spellings(name: str) -> list[str]:
    norm = normalize(name)
    return sorted({norm, norm.replace("-", "_"), name})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _page(title: str, links: list[tuple[str, str]]) -> str:
    body = "\n".join(
        f'    <a href="{html.escape(href)}">{html.escape(text)}</a><br>'
        for href, text in links
    )
    return (
        '<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" '
        f'content="1.0">\n    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n'
        f"{body}\n  </body>\n</html>\n"
    )


def write_simple_index(
    root: Path,
    projects: dict[str, list[Path]],
    *,
    site_root: Path,
    base_path: str = "/",
) -> None:
    """Write ``root/index.html`` and one page per project linking its files.

    Every file must lie inside ``site_root``; its link is ``base_path`` plus the
    file's path from there, with the ``#sha256=`` fragment micropip verifies.
    """
    if not base_path.startswith("/"):
        raise ValueError(
            f"base_path must be an absolute URL path like '/' or '/app/', got {base_path!r}"
        )
    prefix = base_path if base_path.endswith("/") else base_path + "/"
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for name, files in sorted(projects.items()):
        links = []
        for file in sorted(files, key=lambda f: f.name):
            rel = file.resolve().relative_to(site_root.resolve()).as_posix()
            links.append((f"{prefix}{rel}#sha256={_sha256(file)}", file.name))
        page = _page(f"Links for {normalize(name)}", links)
        for spelling in _spellings(name):
            (root / spelling).mkdir(exist_ok=True)
            (root / spelling / "index.html").write_text(page)
        names.append(normalize(name))
    (root / "index.html").write_text(
        _page("Simple index", [(f"{n}/", n) for n in names])
    )
