"""Renderings for the Snakemake HTML report.

The report shows an output inline only when it is an image or an HTML page (anything else is
downloaded), so the claims and the tables, written as Markdown, also get a standalone HTML page
(:func:`markdown_to_html`). :func:`sidecar_labels` reads a provenance sidecar when the report is
built, so that each item's labels and caption can name the commit that produced it."""

from __future__ import annotations

import html
import json
from pathlib import Path

from markdown_it import MarkdownIt

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 14px;
       line-height: 1.45; color: #1e293b; background: #fff; margin: 1.5rem; max-width: 70rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #cbd5e1; padding: 0.25rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f1f5f9; position: sticky; top: 0; }
tr:nth-child(even) td { background: #f8fafc; }
code { background: #f1f5f9; padding: 0 0.2rem; border-radius: 3px; }
"""


def markdown_page(text: str, title: str) -> str:
    """A standalone HTML page (inline style, no external resources) of Markdown ``text``."""
    body = MarkdownIt("commonmark").enable("table").render(text)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )


def markdown_to_html(md_path: str | Path, html_path: str | Path, title: str) -> None:
    """Write the HTML rendering of the Markdown file ``md_path`` to ``html_path``."""
    text = Path(md_path).read_text(encoding="utf-8")
    Path(html_path).write_text(markdown_page(text, title), encoding="utf-8")


def sidecar_labels(prov_path: str | Path, name: str, key: str = "figure") -> dict[str, str]:
    """Report labels of an artifact from its sidecar: ``{key: name, commit, tree}``, the commit
    shortened to 12 characters and the tree ``clean``, ``dirty`` or ``unknown`` (no git)."""
    git = json.loads(Path(prov_path).read_text(encoding="utf-8")).get("git", {})
    commit, dirty = git.get("commit"), git.get("dirty")
    tree = "unknown" if dirty is None else ("dirty" if dirty else "clean")
    return {key: name, "commit": commit[:12] if commit else "unknown", "tree": tree}
