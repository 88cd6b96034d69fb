"""CPython's default garbage collector against bubblelens' (core/gc_tuning.py), on the two kinds of work it
was set for: a mixture GAN ensemble's small-tensor training steps and WeasyPrint typesetting a report.

    python benchmarks/gc_thresholds.py --html out/bubblelens-report.html [--repeats 3]
    python benchmarks/gc_thresholds.py --smoke    # seconds: a few steps and a two-paragraph page (CI)

Each measurement runs in a fresh process with one torch thread, alternating (default, bubblelens, default,
...) so that the machine's drift hits both alike; the collector is set at the start of the process, as the
command (cli/main.py) and every worker (pipeline/work.py: run_unit) set it. The report is the
self-contained HTML a build writes beside its PDF (charts and fonts inlined), typeset to PDF in memory.
Prints the median and the fastest of each and the ratio of the medians.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from mixture_step import TIMER as MIXTURE_TIMER
from ref_tree import REPO, run_in_tree

COLLECTORS = {"default": "(700, 10, 10)", "bubblelens": "GC_THRESHOLDS"}

# Runs first in every measured process: the collector under test.
SET_COLLECTOR = """
import gc, json, sys
from bubblelens.core.gc_tuning import GC_THRESHOLDS
gc.set_threshold(*{thresholds})
"""

# Typesets the report once to warm WeasyPrint's caches (fonts, images), then times a second typesetting.
RENDER_TIMER = """
import io, time
import weasyprint
a = json.loads(sys.argv[1])
weasyprint.HTML(filename=a["html"]).write_pdf(io.BytesIO())
start = time.perf_counter()
weasyprint.HTML(filename=a["html"]).write_pdf(io.BytesIO())
print(json.dumps({"s": time.perf_counter() - start}))
"""

SMOKE_HTML = "<html><body><h1>bubblelens</h1><p>A two-paragraph page.</p><p>Typeset twice.</p></body></html>"


def compare(name: str, code: str, spec: dict, key: str, repeats: int, unit: str) -> None:
    runs: dict[str, list[float]] = {c: [] for c in COLLECTORS}
    for _ in range(repeats):
        for collector, thresholds in COLLECTORS.items():
            program = SET_COLLECTOR.format(thresholds=thresholds) + code
            runs[collector].append(run_in_tree(REPO, program, spec)[key])
    d, b = statistics.median(runs["default"]), statistics.median(runs["bubblelens"])
    print(f"{name:34s} {d:10.2f} ({min(runs['default']):7.2f}) {b:10.2f} ({min(runs['bubblelens']):7.2f}) "
          f"{d / b:7.2f}x  {unit}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--html", type=Path, help="a build's bubblelens-report.html (required without --smoke)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=600, help="timed mixture GAN steps per run")
    ap.add_argument("--smoke", action="store_true", help="25 steps of a tiny ensemble, a two-paragraph page, "
                                                         "one run each (seconds; CI)")
    args = ap.parse_args()
    if args.html is None and not args.smoke:
        ap.error("--html is required (a build's self-contained report), except with --smoke")
    mixture = {"dataset": "ring8", "variant": "vanilla", "seeds": 10, "g": 64, "d": 32, "steps": args.steps,
               "warmup": 50}
    if args.smoke:
        args.repeats = 1
        mixture |= {"seeds": 2, "g": 8, "d": 8, "steps": 25, "warmup": 25}
    with tempfile.TemporaryDirectory(prefix="bubblelens-gc-") as tmp:
        html = args.html
        if args.smoke:
            html = Path(tmp) / "page.html"
            html.write_text(SMOKE_HTML, encoding="utf-8")
        print(f"1 torch thread, {args.repeats} alternating runs per collector; median (fastest)")
        print(f"{'work':34s} {'default':>20s} {'bubblelens':>20s} {'speed-up':>8s}")
        compare(f"mixture GAN, E {mixture['seeds']}, G {mixture['g']} / D {mixture['d']}", MIXTURE_TIMER, mixture,
                "ms_per_step", args.repeats, "ms per step")
        compare(f"typeset {html.name}", RENDER_TIMER, {"html": str(html.resolve())}, "s", args.repeats, "s")


if __name__ == "__main__":
    main()
