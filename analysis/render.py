"""A page written twice, as Markdown and as self-contained HTML (figures as data URIs)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis.banner import RECORDED_BANNER, SIMULATED_BANNER
from analysis.figures import save

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#111}
p,li,figcaption{overflow-wrap:break-word}
.table{overflow-x:auto;max-width:100%;margin:.6em 0}
table{border-collapse:collapse;font-size:.85em}
th,td{border:1px solid #999;padding:.25em .5em;text-align:right}
th{background:#eee} td:first-child,th:first-child{text-align:left}
.banner{background:#b00020;color:#fff;font-weight:bold;font-size:1.4em;padding:.7em 1em;
border:4px solid #000;text-align:center;margin:1em 0}
.recorded{background:#eef3f8;border-left:5px solid #4a6a8a;padding:.5em 1em;margin:1em 0}
figure{margin:1em 0} figcaption{font-size:.85em;color:#333} img{max-width:100%;height:auto}
.note{font-size:.9em;color:#333} code{background:#f3f3f3;padding:0 .2em}
"""


def md_table(frame: pd.DataFrame, floatfmt: str = "{:.3g}") -> str:
    """A GitHub-flavoured Markdown table (no tabulate dependency)."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            text = "–" if pd.isna(value) else floatfmt.format(value)
        else:
            text = "–" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def html_table(frame: pd.DataFrame, floatfmt: str = "{:.3g}") -> str:
    """An HTML table in a box that scrolls sideways on a narrow screen. A pivot's column-axis
    name is dropped: pandas would draw it as an extra, empty first column."""
    table = frame.rename_axis(columns=None).to_html(
        index=False, na_rep="–", float_format=lambda v: floatfmt.format(v), border=0
    )
    return f'<div class="table">{table}</div>'


class Page:
    """Collects headings, text, tables and figures; `write` emits `<stem>.md` and `.html`."""

    def __init__(
        self,
        title: str,
        out_dir: str | Path,
        simulated: bool = False,
        banner_detail: str = "",
        recorded: Sequence[str] = (),
    ) -> None:
        """`recorded`: the recorded notices (`banner.recorded_banner`), one per recorded side,
        shown once below the title and stamped small on every figure."""
        self.title = title
        self.out_dir = Path(out_dir)
        self.simulated = simulated
        self.recorded = list(recorded)
        self.md: list[str] = [f"# {title}"]
        self.html: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        if simulated:
            self.banner(banner_detail)
        for notice in self.recorded:
            self.md.append(f"> ℹ {notice}")
            self.html.append(f'<div class="recorded">ℹ {html.escape(notice)}</div>')

    def banner(self, detail: str = "") -> None:
        text = SIMULATED_BANNER + (f" ({detail})" if detail else "")
        self.md.append(f"> **⚠ {text} ⚠**")
        self.html.append(f'<div class="banner">⚠ {html.escape(text)} ⚠</div>')

    def heading(self, text: str, level: int = 2) -> None:
        self.md.append(f"{'#' * level} {text}")
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str, note: bool = False) -> None:
        self.md.append(f"*{text}*" if note else text)
        cls = ' class="note"' if note else ""
        self.html.append(f"<p{cls}>{html.escape(text)}</p>")

    def bullets(self, items: list[str]) -> None:
        self.md.append("\n".join(f"- {item}" for item in items))
        lis = "".join(f"<li>{html.escape(item)}</li>" for item in items)
        self.html.append(f"<ul>{lis}</ul>")

    def table(self, frame: pd.DataFrame, caption: str = "", floatfmt: str = "{:.3g}") -> None:
        if caption:
            self.md.append(f"**{caption}**")
            self.html.append(f"<p><b>{html.escape(caption)}</b></p>")
        self.md.append(md_table(frame, floatfmt))
        self.html.append(html_table(frame, floatfmt))

    def figure(self, fig: Figure, name: str, caption: str) -> None:
        stamp = RECORDED_BANNER if self.recorded else None
        saved = save(fig, self.out_dir / "figures", name, simulated=self.simulated, note=stamp)
        self.md.append(
            f"![{caption}](figures/{saved.png.name})\n\n*{caption}* "
            f"([SVG](figures/{saved.svg.name}))"
        )
        self.html.append(
            f'<figure><img alt="{html.escape(caption)}" src="{saved.data_uri}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def write(self, stem: str) -> tuple[Path, Path]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        md_parts, html_parts = list(self.md), list(self.html)
        if self.simulated:  # repeat the banner at the end, where a reader may land
            md_parts.append(f"> **⚠ {SIMULATED_BANNER} ⚠**")
            html_parts.append(f'<div class="banner">⚠ {html.escape(SIMULATED_BANNER)} ⚠</div>')
        md_path, html_path = self.out_dir / f"{stem}.md", self.out_dir / f"{stem}.html"
        md_path.write_text("\n\n".join(md_parts) + "\n", encoding="utf-8")
        body = "\n".join(html_parts)
        html_path.write_text(
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n",
            encoding="utf-8",
        )
        return md_path, html_path


def write_csv(
    frame: pd.DataFrame, path: str | Path, simulated: bool, origin: str | None = None
) -> Path:
    """CSV with a leading `simulated` column (and, given `origin`, an `origin` column after
    it: `run`, `simulated`, `recorded`, or several joined by `+`), so the labels travel with
    the numbers."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    if "simulated" not in out:
        out.insert(0, "simulated", simulated)
    if origin is not None and "origin" not in out:
        out.insert(1, "origin", origin)
    out.to_csv(path, index=False)
    return path
