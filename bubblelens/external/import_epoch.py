"""`bubblelens data import epoch-benchmarks FILE`: Epoch AI Benchmarking Hub CSVs -> record-setting series.

Input: one of the hub's per-benchmark CSVs (`gpqa_diamond.csv`, `math_level_5.csv`, `swe_bench_verified.csv`,
also with an `epoch_` prefix) or the hub's `benchmark_data.zip`, from which every known benchmark is
imported (other members are ignored). The benchmark is known from the file name; the columns read are
`Model version`, `mean_score` (a fraction) and `Release date` (plus `Organization` for the note), with the
standard library's csv and zipfile modules.

Rows: the record-setting models, i.e. the running maximum of mean_score by release date (on one date the
best first, so a date holds at most one record); rows without a score or a release date are skipped, a
malformed one is refused, naming its line. value = 100 x mean_score rounded to 6 decimals, unit percent,
label = Model version.
"""
from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bubblelens.core.errors import DataError
from bubblelens.core.provenance import Source
from bubblelens.external.import_market import MARKET, Row, add_provenance, collapse, series_update
from bubblelens.external.import_templates import epoch_templates
from bubblelens.external.imports import Plan
from bubblelens.market.schema import parse_iso_date

# file stem -> (series id, display name)
BENCHMARKS = {"gpqa_diamond": ("epoch_gpqa_diamond_frontier", "GPQA Diamond"),
              "math_level_5": ("epoch_math_level5_frontier", "MATH Level 5"),
              "swe_bench_verified": ("epoch_swe_bench_verified_frontier", "SWE-bench Verified")}
REQUIRED = ("Model version", "mean_score", "Release date")
NOTE_MARK = "running maximum selected by bubblelens"
PUBLISHER_URL = "https://epoch.ai/data/benchmark_data.zip"
LICENCE = "CC BY 4.0"


@dataclass(frozen=True)
class Record:
    line: int
    model: str
    organization: str
    score: float
    released: str
    raw: str            # the record's text as it stands in the file (for the source's quote)


@dataclass(frozen=True)
class Benchmark:
    name: str           # the file name as shown in messages (a zip member: zip name and member)
    stem: str           # key of BENCHMARKS
    header: str         # the header line, verbatim
    records: list[Record]


def benchmark_of(name: str) -> str | None:
    """The BENCHMARKS key a file name stands for ('epoch_gpqa_diamond.csv' -> 'gpqa_diamond'), or None."""
    path = PurePosixPath(name)
    if path.suffix.lower() != ".csv":
        return None
    stem = path.stem.removeprefix("epoch_")
    return stem if stem in BENCHMARKS else None


def _inputs(path: Path) -> list[tuple[str, str, bytes]]:
    """(shown name, benchmark, bytes) of every known benchmark CSV in `path` (a CSV or the hub's zip)."""
    known = ", ".join(f"{k}.csv" for k in BENCHMARKS)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                found = [(f"{path.name}:{i.filename}", stem, z.read(i)) for i in z.infolist()
                         if not i.is_dir() and (stem := benchmark_of(i.filename)) is not None]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise DataError(f"{path.name}: not a readable zip file ({exc})") from None
        if not found:
            raise DataError(f"{path.name}: the zip holds none of the benchmarks bubblelens imports ({known})")
        return found
    stem = benchmark_of(path.name)
    if stem is None:
        raise DataError(f"{path.name}: unknown Epoch benchmark file; the file name must be one of {known} "
                        "(optionally with an epoch_ prefix), or the hub's zip")
    return [(path.name, stem, path.read_bytes())]


def _fail(name: str, line: int, column: str | None, message: str) -> DataError:
    return DataError(f"{name}:{line}: {'' if column is None else f'column {column!r}: '}{message}")


def parse_benchmark(name: str, stem: str, data: bytes) -> Benchmark:
    """Check one hub CSV and return its scored, dated rows; `DataError` naming line and column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(name, data[:exc.start].count(b"\n") + 1, None, "is not valid UTF-8") from None
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise _fail(name, 1, None, "file is empty (no header line)")
        header = [h.strip() for h in header]
        for column in REQUIRED:
            if column not in header:
                raise _fail(name, 1, None, f"missing column {column!r} (an Epoch hub CSV has "
                            f"{', '.join(REQUIRED)})")
        at = {column: header.index(column) for column in REQUIRED}
        org = header.index("Organization") if "Organization" in header else None
        records, last = [], reader.line_num
        for cells in reader:
            start, last = last + 1, reader.line_num
            if not cells:
                continue
            if len(cells) != len(header):
                raise _fail(name, start, None, f"row has {len(cells)} fields, the header has {len(header)}")
            score, released = cells[at["mean_score"]].strip(), cells[at["Release date"]].strip()
            if not score or not released:
                continue                   # not evaluated, or no known release date: not on the time axis
            records.append(Record(start, _model(name, start, cells[at["Model version"]]),
                                  cells[org].strip() if org is not None else "", _score(name, start, score),
                                  _date(name, start, released), "".join(lines[start - 1:last])))
    except csv.Error as exc:
        raise _fail(name, reader.line_num, None, f"unreadable CSV ({exc})") from None
    return Benchmark(name=name, stem=stem, header=lines[0] if lines else "", records=records)


def _model(name: str, line: int, text: str) -> str:
    if not text.strip():
        raise _fail(name, line, "Model version", "is empty (every scored row names a model)")
    return text.strip()


def _score(name: str, line: int, text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise _fail(name, line, "mean_score", f"{text!r} is not a number") from None
    if not math.isfinite(x) or not 0.0 <= x <= 1.0:
        raise _fail(name, line, "mean_score", f"{text!r} is not a fraction between 0 and 1")
    return x


def _date(name: str, line: int, text: str) -> str:
    if len(text) != 10 or parse_iso_date(text) is None:
        raise _fail(name, line, "Release date", f"{text!r} is not an ISO date (YYYY-MM-DD)")
    return text


def records_set(records: list[Record]) -> list[Record]:
    """The record-setting rows: running maximum of the score by release date, the best first on a date."""
    best, out = -math.inf, []
    for r in sorted(records, key=lambda r: (r.released, -r.score, r.line)):
        if r.score > best:
            best = r.score
            out.append(r)
    return out


def default_source_id(path: Path, stems: list[str], accessed: str) -> str:
    """`epoch_<benchmark>_<accessed>` for one CSV, `epoch_benchmarks_<accessed>` for the hub's zip."""
    if len(stems) == 1 and benchmark_of(path.name) is not None:
        return f"epoch_{stems[0]}_{accessed}"
    return f"epoch_benchmarks_{accessed}"


def plan_epoch(path: Path, data_dir: Path, *, accessed: str, source_id: str | None = None,
               url: str | None = None) -> Plan:
    """The import of one hub CSV, or of every known benchmark in the hub's zip, into `<data_dir>/market`."""
    path = Path(path)
    benchmarks = [parse_benchmark(*entry) for entry in _inputs(path)]
    sid = source_id or default_source_id(path, [b.stem for b in benchmarks], accessed)
    market_dir = Path(data_dir) / MARKET
    plan = Plan("epoch-benchmarks", path, MARKET, {}, [])
    quotes = []
    for b in benchmarks:
        series_id = BENCHMARKS[b.stem][0]
        frontier = records_set(b.records)
        if not frontier:
            raise DataError(f"{b.name}: no row has both a mean_score and a release date; nothing to import")
        rows = [Row(date=r.released, value=repr(round(100.0 * r.score, 6)), unit="percent", source_id=sid,
                    note=f"record-setting model={r.model}; org={r.organization}; date = model release date; "
                         f"{NOTE_MARK}", label=r.model) for r in frontier]
        data, diff = series_update(market_dir, series_id, rows, lambda r: r.source_id == sid or NOTE_MARK in r.note)
        plan.writes[f"{series_id}.csv"] = data
        plan.diffs.append(diff)
        plan.skipped.append(f"{b.name}: {len(b.records) - len(frontier)} scored rows did not set a record")
        quotes.append(f"{b.name.split(':')[-1]}: {collapse(b.header)} [...] {collapse(frontier[-1].raw)}")
    names = ", ".join(BENCHMARKS[b.stem][1] for b in benchmarks)
    source = Source(source_id=sid, title=f"Epoch AI Benchmarking Hub: {names} ({path.name})",
                    publisher="Epoch AI", url=url or PUBLISHER_URL, published="unknown", accessed=accessed,
                    licence=LICENCE, quote=" [...] ".join(quotes))
    add_provenance(plan, market_dir, source, epoch_templates())
    return plan
