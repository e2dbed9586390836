"""Write one benchmark's figures into its own marked block of a docs page, leaving the rest of the page as written.

Several scale benchmarks share docs/scalability.md: the plan is prose kept by hand, and each benchmark owns the
block between `<!-- figures:NAME -->` and `<!-- /figures:NAME -->`, so one benchmark run never erases another's
figures.
"""

from __future__ import annotations

from pathlib import Path


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- figures:{name} -->", f"<!-- /figures:{name} -->"


def replace_section(page: str, name: str, markdown: str) -> str:
    """The page with block `name` holding `markdown`; the block is appended when the page has none yet."""
    start, end = _markers(name)
    block = f"{start}\n{markdown.strip()}\n{end}"
    head, found, rest = page.partition(start)
    if not found:
        return page.rstrip() + "\n\n" + block + "\n"
    _, closed, tail = rest.partition(end)
    if not closed:
        raise ValueError(f"{start} has no closing {end}")
    return head + block + tail


def write_section(path: Path, name: str, markdown: str) -> None:
    page = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replace_section(page, name, markdown), encoding="utf-8")
