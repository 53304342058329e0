"""Markdown tables as a reader sees them: rendered by markdown-it-py, cell by cell.

markdown-it pads or truncates a row to the header's width, so a stray pipe never shows up as a
wrong cell count in the rendered table; it shows up as a source line with more unescaped pipes
than the header has, and as text that moved into the wrong column. Both are checked here.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def rendered_tables(text: str) -> list[list[list[str]]]:
    """Each table: its rows (header first), each a list of the cells' rendered text."""
    tokens = MarkdownIt().enable("table").parse(text)
    tables, row = [], None
    for i, t in enumerate(tokens):
        if t.type == "table_open":
            tables.append([])
        elif t.type == "tr_open":
            row = []
        elif t.type in ("th_open", "td_open"):
            row.append(tokens[i + 1].content if tokens[i + 1].type == "inline" else "")
        elif t.type == "tr_close":
            tables[-1].append(row)
    return tables


def source_cell_counts(text: str) -> list[list[int]]:
    """For each table's source lines, the number of cells their unescaped pipes delimit."""
    tokens = MarkdownIt().enable("table").parse(text)
    lines = text.splitlines()
    counts = []
    for t in tokens:
        if t.type == "table_open":
            start, end = t.map
            counts.append(
                [len(UNESCAPED_PIPE.split(lines[n].strip().strip("|"))) for n in range(start, end)]
            )
    return counts
