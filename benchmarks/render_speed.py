"""How long the renderer takes on a report of realistic size (~25 pages, ~20 charts).

Target (issue 6): under 10 s on 2 cores. Prints wall and CPU time, pages and PDF size. Chart drawing is
timed separately: it belongs to the charts stage, not to the render.

    python benchmarks/render_speed.py [--charts 20]
    python benchmarks/render_speed.py --smoke       # seconds: the demo report plus one chart (CI)
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

from bubblelens.report.charts.io import draw_chart
from bubblelens.report.render import render_report
from bubblelens.report.demo import demo_content
from bubblelens.report.model import Figure, Paragraph, Section, Table

LOREM = ("Generative models are judged here on what they measurably do: which modes of the data they "
         "reproduce, how sharp their samples are, and what each point of quality costs in compute. ")


def synthetic_content(chart_dir: Path, n_charts: int):
    """The demo report plus `n_charts` extra line charts, each with two paragraphs and a small table."""
    content = demo_content(chart_dir)
    base = content.sections[2].blocks[1].chart  # the demo's curated line chart
    extra = []
    for i in range(n_charts - 3):
        spec = copy.copy(base)
        spec.chart_id = f"fig-bench-series-{i:02d}"
        spec.data = base.data.assign(capex=base.data.capex * (1 + i / 10))
        data = spec.data

        def draw(fig, ax, data=data):
            ax.plot(data.year, data.capex, label="Capital expenditure", marker="o")
            ax.plot(data.year, data.revenue, label="Revenue", marker="s")
            ax.legend(loc="upper left")

        draw_chart(spec, draw, chart_dir, meta=content.meta)
        table = Table(f"Series {i} by year", ["Year", "Capex", "Revenue"],
                      [[int(r.year), float(r.capex), float(r.revenue)] for r in data.itertuples()][:6])
        extra.append(Section(f"bench-{i:02d}", f"Benchmark series {i}",
                             [Paragraph(LOREM * 3), Figure(spec), Paragraph(LOREM * 2), table]))
    content.sections.append(Section("bench", "Benchmark charts", [Paragraph(LOREM)], extra))
    return content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="the demo report plus one chart (seconds; CI)")
    args = parser.parse_args()
    if args.smoke:
        args.charts = 4                # the demo's three charts and one benchmark section
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        content = synthetic_content(out / "charts", args.charts)
        print(f"charts drawn: {args.charts} in {time.perf_counter() - start:.1f} s")
        wall, cpu = time.perf_counter(), time.process_time()
        result = render_report(content, out, chart_dir=out / "charts")
        print(f"render: {time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU, "
              f"{result['pages']} pages, {result['pdf_bytes'] / 1e6:.2f} MB PDF, "
              f"{(out / 'bubblelens-report.html').stat().st_size / 1e6:.2f} MB HTML")


if __name__ == "__main__":
    main()
