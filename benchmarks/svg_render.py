"""Seconds WeasyPrint takes to draw a build's SVG charts into a PDF: as matplotlib wrote them against slimmed.

    python benchmarks/svg_render.py --charts reports/charts [--repeats 5]
    python benchmarks/svg_render.py --smoke      # seconds: two small charts drawn here, one repetition (CI)

Each chart goes on a page of its own at the report's column width. A build writes slimmed charts, so
`--charts` takes matplotlib's own output (the charts of a build of a revision before charts/svg_slim.py, or
any SVGs) and this script slims a copy itself. Renders alternate (as written, slimmed, ...) in one process,
so that the machine's drift hits both alike; prints the median seconds of each, the speed-up and the counts
of `<g` elements (the groups WeasyPrint walks).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from weasyprint import HTML  # noqa: E402

from bubblelens.report.charts.io import STYLE  # noqa: E402
from bubblelens.report.charts.svg_slim import slim_svg  # noqa: E402


def render_seconds(directory: Path) -> float:
    pages = "".join(f'<img src="{f.name}" style="width: 170mm; page-break-after: always">'
                    for f in sorted(directory.glob("*.svg")))
    start = time.perf_counter()
    HTML(string=f"<html><body>{pages}</body></html>", base_url=f"{directory}/").write_pdf()
    return time.perf_counter() - start


def smoke_charts(directory: Path) -> None:
    for i in range(2):
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots(figsize=(6.69, 3.6))
            ax.plot(range(20), [x * (i + 1) for x in range(20)], marker="o", label="series")
            ax.legend()
            fig.savefig(directory / f"chart-{i}.svg", format="svg")
            plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--charts", type=Path, help="a directory of SVG charts as matplotlib wrote them")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="two small charts drawn here, one repetition")
    args = ap.parse_args()
    if not args.smoke and args.charts is None:
        ap.error("--charts is required, except with --smoke")
    with tempfile.TemporaryDirectory(prefix="bubblelens-svg-") as tmp:
        written, slimmed = Path(tmp) / "written", Path(tmp) / "slimmed"
        written.mkdir()
        slimmed.mkdir()
        if args.smoke:
            smoke_charts(written)
            args.repeats = 1
        else:
            for f in sorted(args.charts.glob("*.svg")):
                (written / f.name).write_bytes(f.read_bytes())
        for f in sorted(written.glob("*.svg")):
            (slimmed / f.name).write_bytes(slim_svg(f.read_bytes()))
        groups = [sum(f.read_bytes().count(b"<g") for f in d.glob("*.svg")) for d in (written, slimmed)]
        render_seconds(written)                              # warm-up: fonts, imports
        times: dict[str, list[float]] = {"written": [], "slimmed": []}
        for _ in range(args.repeats):
            times["written"].append(render_seconds(written))
            times["slimmed"].append(render_seconds(slimmed))
    a, b = statistics.median(times["written"]), statistics.median(times["slimmed"])
    n = len(list(args.charts.glob("*.svg"))) if args.charts else 2
    print(f"{n} SVG charts, {args.repeats} alternating renders each")
    print(f"as written: {a:.2f} s median, {groups[0]} groups; slimmed: {b:.2f} s, {groups[1]} groups; "
          f"{a / b:.2f}x")


if __name__ == "__main__":
    main()
