"""The HTML of ``gmat-sweep report``: a page that needs nothing but itself.

Everything that goes into the page passes through :func:`text` (``html.escape``, quotes
included) unless it is markup built here; figures are inlined as base64 PNG ``data:``
URIs (:func:`figure`); the style sheet is inline and uses the reader's system fonts. The
page has no script, no external style sheet, font or image, and no link off the page:
a colleague can open it offline, and opening it makes no network request.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "code",
    "details",
    "figure",
    "key_values",
    "page",
    "paragraph",
    "section",
    "table",
    "text",
]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1.5em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #d0d0d0; padding-bottom: 0.2em;
     margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
            font-size: 0.9em; }
pre { background: #f6f6f6; border: 1px solid #e0e0e0; padding: 0.6em; overflow-x: auto;
      white-space: pre-wrap; word-break: break-all; max-height: 24em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e6e6e6; }
figcaption { font-size: 0.9em; color: #555; }
.bad { color: #b00020; font-weight: 600; }
.ok { color: #1b7f3b; font-weight: 600; }
.note { color: #555; font-size: 0.92em; }
"""


def text(value: Any) -> str:
    """``value`` as text, escaped for HTML (``<``, ``>``, ``&`` and both quotes)."""
    return html.escape(str(value), quote=True)


def page(title: str, body: Iterable[str]) -> str:
    """The whole document: ``title`` (escaped here) and the body's markup."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def section(title: str, *parts: str, level: int = 2) -> str:
    """A heading (escaped here) followed by markup."""
    return f"<section>\n<h{level}>{text(title)}</h{level}>\n" + "\n".join(parts) + "\n</section>"


def paragraph(content: str, *, css: str | None = None) -> str:
    """A paragraph of plain text (escaped here)."""
    attribute = f' class="{text(css)}"' if css else ""
    return f"<p{attribute}>{text(content)}</p>"


def code(content: str) -> str:
    """A preformatted block of plain text (escaped here)."""
    return f"<pre>{text(content)}</pre>"


def details(summary: str, content: str) -> str:
    """A block that opens on a click (no script: ``<details>``); ``content`` is markup."""
    return f"<details><summary>{text(summary)}</summary>{content}</details>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, markup: bool = False) -> str:
    """A table; every cell is escaped here, unless ``markup`` (cells are trusted markup
    built by this module's functions). Numbers are right-aligned."""
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    lines = [f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>"]
    for row in rows:
        cells = []
        for cell in row:
            numeric = isinstance(cell, (int, float)) and not isinstance(cell, bool)
            shown = _number(cell) if numeric else (str(cell) if markup else text(cell))
            cells.append(f'<td class="num">{shown}</td>' if numeric else f"<td>{shown}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody>\n</table>")
    return "\n".join(lines)


def key_values(rows: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of names (headers of their rows) and values, all escaped here."""
    body = "".join(f"<tr><th>{text(k)}</th><td>{text(v)}</td></tr>" for k, v in rows)
    return f"<table>\n<tbody>{body}</tbody>\n</table>"


def figure(fig: Figure, caption: str, *, dpi: float = 96) -> str:
    """``fig`` as an inline PNG (a base64 ``data:`` URI) with a caption (escaped here)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img alt="{text(caption)}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{text(caption)}</figcaption></figure>"
    )


def _number(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return text(f"{value:.6g}")
