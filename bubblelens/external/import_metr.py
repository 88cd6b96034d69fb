"""`bubblelens data import metr FILE`: METR's time-horizon results file -> curated market series.

Input: METR's `benchmark_results_1_1.yaml` or `benchmark_results_1_0.yaml` (read with PyYAML's safe
loader). The file names its task suite once at the top (`benchmark_name: METR-Horizon-v1.1`; v1.0's file
says `METR-Horizon-v1`), and the series id follows from it: `metr_time_horizon_p50_v1_1`, `..._v1_0`.

Rows: the results measured on the file's own suite (a result's `benchmark_name`, the file's when absent;
the v1.1 file also lists three old models measured on v1.0, which are left out so that suites are never
pooled silently) and marked `metrics.is_sota` (the frontier METR fits its own trend on). date = the
model's release date, value = the p50 horizon point estimate in minutes, label = METR's result key, note =
the bootstrap interval and the suite. METR's own doubling-time fits (`doubling_time_in_days`) go to
`metr_published_doubling_time`, one row per suite and fit, dated by the newest release date in the file.

Every result must be well formed (a release date, `is_sota`, a positive p50 estimate), whichever suite it
belongs to: a file with a broken row is refused, naming its line and key, rather than half imported.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from bubblelens.core.errors import DataError
from bubblelens.core.provenance import Source
from bubblelens.external.import_market import MARKET, Row, add_provenance, collapse, series_update
from bubblelens.external.import_templates import metr_templates
from bubblelens.external.imports import Plan

SUITE_RE = re.compile(r"^METR-Horizon-v(\d+)(?:\.(\d+))?$")
DOUBLING_SERIES = "metr_published_doubling_time"
PUBLISHER_URL = "https://metr.org/assets/benchmark_results_{major}_{minor}.yaml"


@dataclass(frozen=True)
class Result:
    key: str
    line: int
    suite: str
    is_sota: bool
    released: date
    estimate: float
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class MetrFile:
    suite: str
    version: tuple[int, int]
    results: list[Result]
    fits: list[tuple[str, float, float | None, float | None]]     # (fit name, days, ci_low, ci_high)
    quote: str


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that dates stay text: `_release` checks them and names the key at
    fault (the safe loader would raise a bare ValueError for 2026-13-05, with no line)."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


class _Doc:
    """The parsed YAML and its node tree, so an error can name the line of the key at fault."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        try:
            text = path.read_bytes().decode("utf-8-sig")
            self.node = yaml.compose(text, Loader=_Loader)
            self.data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.name}: byte {exc.start} is not valid UTF-8; is this METR's YAML file?") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise DataError(f"{self.name}{where}: not valid YAML ({problem})") from None
        self.text = text

    def line(self, path: tuple[str, ...]) -> int | None:
        node, line = self.node, None
        for key in path:
            if not isinstance(node, yaml.MappingNode):
                break
            pair = next(((k, v) for k, v in node.value if k.value == key), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        return line

    def error(self, path: tuple[str, ...], message: str) -> DataError:
        line = self.line(path)
        return DataError(f"{self.name}{'' if line is None else f':{line}'}: key '{'.'.join(path)}': {message}")


def _number(doc: _Doc, value: object, path: tuple[str, ...], *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise doc.error(path, f"{value!r} is not a number")
    x = float(value)
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise doc.error(path, f"{value!r} must be a {'positive' if positive else 'non-negative'} finite number")
    return x


def _optional(doc: _Doc, block: dict, name: str, path: tuple[str, ...]) -> float | None:
    return None if block.get(name) is None else _number(doc, block[name], path + (name,), positive=False)


def _release(doc: _Doc, value: object, path: tuple[str, ...]) -> date:
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise doc.error(path, "is missing" if value is None else f"{value!r} is not a date (YYYY-MM-DD)")


def _result(doc: _Doc, key: str, entry: object, suite: str) -> Result:
    path = ("results", key)
    if not isinstance(entry, dict):
        raise doc.error(path, "is not a mapping of benchmark_name, metrics and release_date")
    metrics = entry.get("metrics")
    if not isinstance(metrics, dict):
        raise doc.error(path + ("metrics",), "is missing" if metrics is None else "is not a mapping")
    sota = metrics.get("is_sota")
    if not isinstance(sota, bool):
        raise doc.error(path + ("metrics", "is_sota"),
                        "is missing" if sota is None else f"{sota!r} is not true or false")
    p50 = metrics.get("p50_horizon_length")
    p50_path = path + ("metrics", "p50_horizon_length")
    if not isinstance(p50, dict):
        raise doc.error(p50_path, "is missing" if p50 is None else "is not a mapping with an estimate")
    if p50.get("estimate") is None:
        raise doc.error(p50_path + ("estimate",), "is missing")
    row_suite = entry.get("benchmark_name", suite)
    if not isinstance(row_suite, str):
        raise doc.error(path + ("benchmark_name",), f"{row_suite!r} is not a suite name")
    return Result(key=key, line=doc.line(path) or 0, suite=row_suite, is_sota=sota,
                  released=_release(doc, entry.get("release_date"), path + ("release_date",)),
                  estimate=_number(doc, p50["estimate"], p50_path + ("estimate",), positive=True),
                  ci_low=_optional(doc, p50, "ci_low", p50_path), ci_high=_optional(doc, p50, "ci_high", p50_path))


def _block(text: str, key: str) -> str | None:
    """The verbatim top-level `key:` line and its indented lines, whitespace collapsed; None if absent."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t", "-")) or not lines[end].strip()):
        end += 1
    return collapse("\n".join(lines[start:end]))


def read_metr(path: Path) -> MetrFile:
    """Parse and check a METR benchmark-results file; `DataError` naming line and key on any fault."""
    doc = _Doc(Path(path))
    data = doc.data
    suite = data.get("benchmark_name") if isinstance(data, dict) else None
    if not isinstance(suite, str) or not isinstance(data.get("results"), dict):
        raise DataError(f"{doc.name}: not a METR benchmark-results file (it needs a top-level benchmark_name "
                        "such as 'METR-Horizon-v1.1' and a results mapping)")
    m = SUITE_RE.match(suite)
    if m is None:
        raise doc.error(("benchmark_name",), f"{suite!r} is not a METR time-horizon suite (METR-Horizon-vN[.M])")
    results = [_result(doc, str(k), v, suite) for k, v in data["results"].items()]
    if not results:
        raise doc.error(("results",), "is empty")
    fits = []
    block = data.get("doubling_time_in_days") or {}
    if not isinstance(block, dict):
        raise doc.error(("doubling_time_in_days",), "is not a mapping of fits")
    for fit, values in block.items():
        path = ("doubling_time_in_days", str(fit))
        if not isinstance(values, dict) or values.get("point_estimate") is None:
            raise doc.error(path + ("point_estimate",), "is missing")
        fits.append((str(fit), _number(doc, values["point_estimate"], path + ("point_estimate",), positive=True),
                     _optional(doc, values, "ci_low", path), _optional(doc, values, "ci_high", path)))
    newest = max((r for r in results if r.suite == suite and r.is_sota), key=lambda r: r.released, default=None)
    parts = [_block(doc.text, "benchmark_name"), _block(doc.text, "doubling_time_in_days")]
    if parts[1] is None and newest is not None:        # no fits to quote: quote the newest frontier result
        lines = doc.text.splitlines()
        node = next(v for k, v in doc.node.value if k.value == "results")
        pair = next((k, v) for k, v in node.value if k.value == newest.key)
        parts[1] = collapse("\n".join(lines[pair[0].start_mark.line:pair[1].end_mark.line]))
    return MetrFile(suite=suite, version=(int(m.group(1)), int(m.group(2) or 0)), results=results, fits=fits,
                    quote=" [...] ".join(p for p in parts if p))


def series_id(version: tuple[int, int]) -> str:
    return f"metr_time_horizon_p50_v{version[0]}_{version[1]}"


def default_source_id(version: tuple[int, int], accessed: str) -> str:
    return f"metr_horizon_v{version[0]}_{version[1]}_{accessed}"


def _text(x: float | None) -> str:
    return "not given" if x is None else repr(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def plan_metr(path: Path, data_dir: Path, *, accessed: str, source_id: str | None = None,
              url: str | None = None) -> Plan:
    """The import of one METR file into `<data_dir>/market` (see the module docstring)."""
    f = read_metr(Path(path))
    market_dir = Path(data_dir) / MARKET
    sid = source_id or default_source_id(f.version, accessed)
    sid_series = series_id(f.version)
    suite_mark = f"suite={f.suite};"
    kept = [r for r in f.results if r.suite == f.suite and r.is_sota]
    rows = [Row(date=r.released.isoformat(), value=_text(r.estimate), unit="minutes", source_id=sid,
                note=f"ci_low={_text(r.ci_low)}; ci_high={_text(r.ci_high)}; {suite_mark} date = model release date",
                label=r.key) for r in kept]
    plan = Plan("metr", Path(path), MARKET, {}, [])
    other = [r.key for r in f.results if r.suite != f.suite]
    if other:
        plan.skipped.append(f"{len(other)} result(s) measured on another suite ({', '.join(other)})")
    not_sota = [r.key for r in f.results if r.suite == f.suite and not r.is_sota]
    if not_sota:
        plan.skipped.append(f"{len(not_sota)} result(s) not marked is_sota ({', '.join(not_sota)})")
    if not rows:
        raise DataError(f"{path.name}: no result of suite {f.suite} is marked is_sota; nothing to import")
    data, diff = series_update(market_dir, sid_series, rows, lambda r: r.source_id == sid or suite_mark in r.note)
    plan.writes[f"{sid_series}.csv"] = data
    plan.diffs.append(diff)
    if f.fits:
        newest = max(r.released for r in f.results).isoformat()
        fits = [Row(date=newest, value=_text(days), unit="days", source_id=sid,
                    note=f"ci_low={_text(lo)}; ci_high={_text(hi)}; METR's fit '{fit}' of the p50 horizon on "
                         f"{f.suite}; date = release date of the newest model in the file",
                    label=f"{f.suite} {fit}") for fit, days, lo, hi in f.fits]
        data, diff = series_update(market_dir, DOUBLING_SERIES, fits, lambda r: r.label.startswith(f"{f.suite} "))
        plan.writes[f"{DOUBLING_SERIES}.csv"] = data
        plan.diffs.append(diff)
    else:
        plan.skipped.append(f"no doubling_time_in_days in the file: {DOUBLING_SERIES} left as it is")
    source = Source(source_id=sid, title=f"METR time-horizon benchmark results, {f.suite} "
                    f"(benchmark_results_{f.version[0]}_{f.version[1]}.yaml)", publisher="METR",
                    url=url or PUBLISHER_URL.format(major=f.version[0], minor=f.version[1]), published="unknown",
                    accessed=accessed, licence="not stated", quote=f.quote)
    add_provenance(plan, market_dir, source, metr_templates(f.suite, sid_series, DOUBLING_SERIES))
    return plan

