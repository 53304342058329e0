"""The claims and the tables, written as Markdown, also get a standalone HTML page
(:func:`markdown_to_html`), which any browser opens (a Markdown file is downloaded)."""

from __future__ import annotations

import html
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
