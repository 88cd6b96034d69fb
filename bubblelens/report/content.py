"""The report's sections, assembled from this build's results, the curated data and the claim verdicts.

Text here states what was measured and how; every number it prints comes from the results passed in.
Prose that does not depend on the numbers (methods, errata) lives in `report/text.py`.
"""
from __future__ import annotations


from typing import Mapping, Sequence

import pandas as pd

from bubblelens import __version__
from bubblelens.claims.kinds import VERDICTS
from bubblelens.core.config import PACGAN_RECIPE, BuildConfig, profile_config
from bubblelens.datasets.mixtures import MIXTURE_TITLES, MIXTURES
from bubblelens.evaluation.names import CONVERGENCE_FLOOR, KEY_MIN_CLASS_SHARE_LABELS, KEY_MIN_CLASS_SHARE_REAL
from bubblelens.evaluation.names import KEY_HIGH_QUALITY, KEY_MODES
from bubblelens.report import capability_evidence, flow_evidence, market_evidence, tables as T
from bubblelens.report import text as report_text
from bubblelens.report.inputs import ReportInputs, RunFacts
from bubblelens.report.model import Callout, Paragraph, ReportContent, ReportMeta, Section, Table, figure_if_drawn



def _hardware_text(origin: Mapping, fallback: dict, runs: Sequence[RunFacts]) -> str:
    """The hardware that measured the models: from the runs' own records, which stay true for cached runs
    and bundles, with the machine description for its core count."""
    hw = origin.get("hardware") or fallback
    devices = sorted({(r.compute.get("device"), r.compute.get("device_name")) for r in runs})
    gpus = [name for dev, name in devices if dev == "cuda"]
    if gpus:
        return ", ".join(gpus) + " (CUDA)"
    return f"CPU ({hw.get('cpu_count', '?')} cores, {hw.get('cpu') or 'unknown model'})"


def report_meta(cfg: BuildConfig, hardware: dict, origin: Mapping, runs: Sequence[RunFacts], build_id: str,
                date_text: str, answers: Sequence[Mapping] | None = None) -> ReportMeta:
    """Cover and PDF metadata. `hardware` describes this machine; the runs' own records name the devices.
    The evidence date is the newest market evidence any answer rests on (claims/questions.py)."""
    profile = origin.get("profile") or cfg.profile
    if origin.get("kind") == "bundle":
        seeds = origin.get("seeds") or {}
        origin_text = (f"imported results bundle {origin.get('bundle')} (bubblelens {origin.get('bubblelens_version')}, "
                       f"profile {profile})")
    else:
        seeds = {"image": list(cfg.seeds_image), "mixture": list(cfg.seeds_mixture)}
        origin_text = f"trained and measured in this build (profile {profile})"
    seeds_text = (f"images {', '.join(map(str, seeds.get('image', [])))}; "
                  f"2-D mixtures {', '.join(map(str, seeds.get('mixture', [])))}")
    return ReportMeta(
        title="AI is not a panacea — tested",
        subtitle="Measured generative-model capability, its compute cost, and market expectations",
        build_id=build_id, date_text=date_text, profile=profile,
        hardware=_hardware_text(origin, hardware, runs), seeds=seeds_text,
        results_origin=origin_text, version=__version__,
        evidence_through=max((a.get("evidence_through") or "" for a in answers or []), default=""),
        keywords=["generative AI", "GAN", "VAE", "mode collapse", "FID", "AI bubble", "GSADF"])


def _claim_history(c) -> str:
    """'Declared D; revised D2 (what).' and the registry's sentence on what was known when it was written."""
    if not getattr(c, "declared", ""):
        return ""
    revs = "; ".join(f"revised {r['date']} ({r['what']}; why: {r['why']})" for r in c.revisions) \
        or "not revised since"
    known = f" Known when declared: {c.known_when_declared}" if c.known_when_declared else ""
    return f"*Declared {c.declared}; {revs}.*{known}"


def _claim_reach(c) -> str:
    """Which verdicts the rule could reach at this build's sizes, and what that makes of the verdict."""
    if not getattr(c, "reachable", None):
        return ""
    missing = [v for v in VERDICTS if v not in c.reachable]
    if not missing:
        return f"*Reachable at these sizes: {', '.join(c.reachable)}* — the data could have said otherwise."
    return (f"*Reachable at these sizes: {', '.join(c.reachable)}; out of reach: {', '.join(missing)}* — "
            f"{c.reachability}: this verdict is not evidence.")


def _in_verdict_order(probabilities: dict[str, float]) -> list[tuple[str, float]]:
    """Supported, not supported, inconclusive: the order of the rule, not of the dict (a claim read back from
    the cache has its keys sorted, one just computed does not, and the report must not depend on which)."""
    rank = {v: i for i, v in enumerate(VERDICTS)}
    return sorted(probabilities.items(), key=lambda item: rank.get(item[0], len(rank)))


def _claim_odds(c) -> str:
    """How likely each verdict was under the claim's fitted alternatives (claims/operating.py): the first
    scenario's chance of the same verdict is its replicability, the second's its chance of surviving a
    truth on the other side."""
    op = getattr(c, "operating", None)
    if not op:
        return ""
    if op.get("unavailable"):
        return f"*Verdict probabilities not simulated: {op['unavailable']}.*"
    parts = "; ".join(f"{s['name']} ({s['text']}): " + ", ".join(f"{v} {100 * q:.0f} %" for v, q in
                                                                _in_verdict_order(s["probabilities"]))
                      for s in op["scenarios"])
    sims = min(s["sims"] for s in op["scenarios"])
    se = f", Monte Carlo error up to ±{100 * op['mc_se_max']:.0f} points" if op.get("mc_se_max") else ""
    first, *rest = op["scenarios"]
    if op["settled"] and c.verdict == "inconclusive":
        end = ("**settled at these sizes**: whatever the truth among these alternatives the rule stays "
               "inconclusive, so the sizes in hand cannot decide it.")
    elif op["settled"]:
        end = (f"**settled at these sizes**: under every alternative another verdict comes out under "
               f"{100 * op['settled_below']:.0f} % of the time, so this verdict reports the rule more than the data.")
    else:
        end = (f"the same verdict comes out in {100 * first['same']:.0f} % of draws {first['name']}"
               + "".join(f" and in {100 * s['same']:.0f} % under '{s['name']}'" for s in rest) + ".")
    return f"*Could it have gone the other way? Simulated at these sizes ({op['model']}; {sims} draws each{se}): " \
           f"{parts}* — {end}"


def _verdict_callouts(claims: list) -> list[Callout]:
    out = []
    for c in claims:
        title = f"{c.claim_id}: {c.statement}"
        label = c.verdict + (" (indicative)" if c.indicative else "")
        lines = [f"{label.capitalize()}. {c.reading}" + (f" Reason: {c.reason}." if c.reason else ""),
                 _claim_reach(c), _claim_odds(c), _claim_history(c)]      # one entry per line of the claim's block
        out.append(Callout("verdict", title, "\n".join(line for line in lines if line), c.verdict))
    return out


def settled_status(claims: list) -> str:
    statuses = sorted({c.reachability for c in claims if getattr(c, "reachability", "decidable") != "decidable"})
    return "; ".join(statuses)


def _currency(a: dict, profile: str) -> str:
    """Which period each claim under an answer tested, and the newest evidence date: market claims state
    their window, model claims rest on the runs of this build (or of an imported bundle)."""
    windows = a.get("windows", [])
    runs = [cid for cid, w in windows if not w]
    parts = [f"{cid}: {w[0][:7]} to {w[1][:7]}" for cid, w in windows if w]
    parts += [f"the {profile} runs of this build ({', '.join(runs)})"] if runs else []
    through = a.get("evidence_through")
    newest = f"; newest market evidence {through[:7]}" if through else ""
    return f" *Rests on {'; '.join(parts)}{newest}.*" if parts else ""


def _pct(q: float) -> str:
    return f"{100 * q:.0f} %"


def _answer_block(a: dict, profile: str) -> Paragraph:
    """One question, its registry-written answer, the strength of the evidence behind it and its date."""
    same = {cid: q for cid, q in a.get("same_verdict", [])}
    counted = ", ".join(f"{cid} {v}" + (" (the same verdict in simulated draws: " + "; ".join(
        f"{_pct(q)} {name}" for name, q in same[cid]) + ")" if same.get(cid) else "")
        for cid, v in a["counted"]) or "none"
    left = "; ".join(f"{cid} ({why})" for cid, why in a["not_counted"])
    strength = f" *Evidence: {len(a['counted'])} of {len(a['counted']) + len(a['not_counted'])} claims decided " \
               f"({counted})" + (f"; not decided: {left}" if left else "") + ".*"
    return Paragraph(f"**{a['text']}** {a['answer']}{strength}{_currency(a, profile)}")


def summary_section(meta: ReportMeta, claims: list, answers: list | None = None) -> Section:
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    intro = (f"This report tests {len(claims)} claims behind the thesis that generative AI is not a panacea. "
             f"{counts['supported']} are supported, {counts['not supported']} not supported and "
             f"{counts['inconclusive']} inconclusive on the evidence of this build. ")
    settled = [c.claim_id for c in claims if getattr(c, "reachability", "decidable") not in ("decidable", "")]
    in_practice = [c.claim_id for c in claims if c.claim_id not in settled and getattr(c, "settled", False)]
    if in_practice:
        intro += (f"{len(in_practice)} verdict(s) ({', '.join(in_practice)}) are settled in practice: simulated at "
                  "these sizes under the alternatives fitted to the data, another verdict came out under 5 % of "
                  "the time, so the answers do not count them. ")
    if settled:
        intro += (f"Only {len(claims) - len(settled)} of these verdicts could have come out otherwise at the sizes in "
                  f"hand; for {len(settled)} ({', '.join(settled)}) some verdict is out of reach "
                  f"({settled_status(claims)}), so theirs say more about the rule than about the data. ")
    if meta.profile != "full":
        intro += (f"The models were trained in the **{meta.profile}** profile — narrow models, short training — so verdicts "
                  "on model behaviour are **indicative**; the full profile, trained on a GPU, gives the reference "
                  "verdicts.")
    questions = [Paragraph("The article's questions, each answered by a rule the claims registry states in "
                           "advance (data/claims.toml, [[question]]) from the claims it groups under it. Only "
                           "decided verdicts that could plausibly have gone the other way count. No correction "
                           "for the number of claims under an answer: a yes or a no needs every counted claim to "
                           "agree, an intersection–union test that keeps each claim's level (Berger 1982); a "
                           "mixed answer asserts nothing beyond its claims.")] + \
        [_answer_block(a, meta.profile) for a in answers] if answers else []
    return Section("summary", "Executive summary", [*questions, Paragraph(intro), T.claims_table(claims),
                                                   *_verdict_callouts(claims)])


def _mixture_config_text(m, profile: str) -> str:
    """The mixture GANs' settings, and PacGAN's own beside them wherever they differ."""
    r = PACGAN_RECIPE
    text = (f"G 4 × {m.g_hidden}, D 3 × {m.d_hidden} × 5 maxout pieces, {m.steps:,} steps of {m.batch_size} "
            f"packed samples, pack {m.pack}, Adam lr {m.lr:g} β1 {m.adam_beta1:g}"
            + (", on standardised coordinates" if m.standardise else "")
            + f", fresh mixture samples every step (PacGAN: {r['epochs']} epochs over one draw of "
              f"{r['samples']:,})")
    ours = (m.g_hidden, m.d_hidden, m.steps, m.batch_size, m.lr, m.adam_beta1, m.standardise)
    if ours != (r["g_hidden"], r["d_hidden"], r["steps"], r["batch_size"], r["lr"], r["adam_beta1"], False):
        text += (f"; PacGAN's recipe is G 4 × {r['g_hidden']}, D 3 × {r['d_hidden']}, {r['steps']:,} steps of "
                 f"{r['batch_size']}, lr {r['lr']:g} β1 {r['adam_beta1']:g} on raw coordinates")
    missing = [d for d in MIXTURES if d not in m.datasets]
    if missing:
        names = ", ".join(MIXTURE_TITLES.get(d, d) for d in missing)
        text += f"; {', '.join(MIXTURE_TITLES.get(d, d) for d in m.datasets)} only, {names} not trained"
        if profile != "full" and all(d in profile_config("full").mixture.datasets for d in missing):
            text += (" (at this width it needs more steps than this profile's budget, measured with "
                     "benchmarks/mixture_convergence.py; the full profile trains it)")
    return text


def models_section(charts: dict, features_info: dict, cfg_by_model: dict) -> Section:
    acc = features_info.get("test_accuracy")
    blocks = [
        Paragraph(report_text.MODELS_INTRO),
        Paragraph(report_text.SAMPLING),
        Paragraph("Configurations used: " + "; ".join(f"**{m}** {txt}" for m, txt in cfg_by_model.items()) + "."),
        *figure_if_drawn(charts, "fig-sample-grids"),
        *figure_if_drawn(charts, "fig-training-losses"),
        Paragraph(f"Feature space for all image metrics: the penultimate layer of a small CNN classifier trained on "
                  f"the Fashion-MNIST training images of this build; its accuracy on the held-out test images is "
                  f"**{T.fmt(acc)}** (n = {features_info.get('n_test', '?'):,}). Small CNNs reach 0.876–0.932 on this "
                  "dataset (its README); Inception features, standard in the literature, fit 28 × 28 grayscale "
                  "images poorly and cannot be downloaded here, so FIDs below are not comparable to published "
                  "Inception FIDs."),
    ]
    return Section("models", "Models and training", blocks)


def _class_share_calibration(real: dict) -> str:
    share, labelled = real.get(KEY_MIN_CLASS_SHARE_REAL), real.get(KEY_MIN_CLASS_SHARE_LABELS)
    if share is None:
        return ""
    truth = f" (their true labels give {T.fmt(labelled)}: the first images of the test set are not exactly " \
            "balanced)" if labelled is not None else ""
    return (f" The least-made class share has a reference too: the domain classifier, run on "
            f"{real.get('n_fid', 0):,} real held-out images, gives {T.fmt(share)}{truth} — the rest is its own "
            "confusion between classes, which a generator of test-like images would inherit.")


def failures_section(ev: ReportInputs, charts: Mapping, summary: pd.DataFrame, published: pd.DataFrame, n_fid: int,
                     pack: int) -> Section:
    floor = ev.real.get("fid_train_vs_test")
    blocks = [Paragraph(report_text.FAILURES_INTRO),
              T.quality_table(summary, n_fid),
              Paragraph(f"For scale: the FID between {ev.real.get('n_fid', n_fid):,} real training and "
                        f"{ev.real.get('n_fid', n_fid):,} real held-out images in the same feature space is "
                        f"{T.fmt(floor)} — the floor a perfect generator would reach at this n."
                        + _class_share_calibration(ev.real)),
              *figure_if_drawn(charts, "fig-quality-metrics"), *figure_if_drawn(charts, "fig-blur-spectra")]
    mixtures = [Paragraph(report_text.MIXTURE_INTRO), T.mixture_table(summary, published, pack, CONVERGENCE_FLOOR),
                *figure_if_drawn(charts, "fig-mode-coverage"), *figure_if_drawn(charts, "fig-ring8-samples"),
                *figure_if_drawn(charts, "fig-grid25-samples")]
    true_cov = ev.real.get("mixtures", {})
    if true_cov:
        mixtures.append(Paragraph("Sanity check of the metric: samples drawn from the true mixtures score " +
                                  "; ".join(f"{k}: {v[KEY_MODES]} modes, {100 * v[KEY_HIGH_QUALITY]:.1f} % high quality"
                                            for k, v in true_cov.items()) +
                                  " (expected: all modes, 1 − e^−4.5 ≈ 98.9 %)."))
    events = [(r.model, r.dataset, r.variant, r.seed, e) for r in ev.runs for e in r.failure_events]
    ev_rows = [[f"{m}/{d}/{v}", s, e["kind"], e["step"], e["detail"]] for m, d, v, s, e in events[:40]]
    failures = Table("Failure events recorded during training", ["Run", "Seed", "Kind", "Step", "Detail"], ev_rows,
                     table_id="tab-failure-events",
                     note=f"{len(events)} events in {len(ev.runs)} runs. A failed run is kept as evidence, not "
                          "discarded." + (" Only the first 40 are listed." if len(events) > 40 else "")) \
        if ev_rows else Paragraph(f"No failure events (non-finite loss, discriminator overpowering, divergence) "
                                  f"were recorded in the {len(ev.runs)} training runs of this build.")
    return Section("failure-modes", "Failure modes", blocks, [
        Section("mode-collapse", "Mode collapse on 2-D mixtures", mixtures),
        Section("training-failures", "Training failures", [failures])])


def compute_section(ev: ReportInputs, charts: Mapping, costs) -> Section:
    return Section("compute", "Compute and cost", [Paragraph(report_text.COMPUTE_INTRO), T.compute_table(ev.runs, costs),
                                                   *figure_if_drawn(charts, "fig-compute-per-run")])


def market_section(mkt, charts: dict) -> Section:
    rows = [[s.meta.series_id, s.meta.category, s.meta.reliability, len(s.frame), s.meta.classification_note]
            for s in sorted(mkt.series.values(), key=lambda s: (s.meta.category, s.meta.series_id))]
    return Section("market", "Market sentiment", [
        Paragraph(report_text.MARKET_INTRO),
        Table("How each curated series is classed", ["Series", "Category", "Reliability", "n", "Why this class"],
              rows, table_id="tab-series-classes"),
        *figure_if_drawn(charts, "fig-hype-series"), *figure_if_drawn(charts, "fig-adoption-series"),
        *figure_if_drawn(charts, "fig-capability-series"), *figure_if_drawn(charts, "fig-disillusionment-series")])


def hype_section(charts: Mapping, growth: pd.DataFrame, summary: pd.DataFrame, runs: Sequence[RunFacts]) -> Section:
    return Section("hype-vs-capability", "Hype versus capability", [
        Paragraph(report_text.HYPE_INTRO), *figure_if_drawn(charts, "fig-hype-vs-capability"), T.growth_rows(growth),
        *figure_if_drawn(charts, "fig-growth-rates"),
        Paragraph("The market series have a time axis; this build's models have a compute axis instead. What a "
                  "unit of training compute bought here is the capability side of the same ledger:"),
        T.quality_per_compute(summary, runs)])


def limitations_section(meta: ReportMeta, mkt) -> Section:
    grades = [[s.meta.series_id, s.meta.reliability, getattr(s.meta, "reliability_note", "")]
              for s in sorted(mkt.series.values(), key=lambda s: s.meta.series_id)]
    warnings = [Table("Warnings from the data check (bubblelens data check)", ["File", "Line", "Warning"],
                      [[w.file, w.line or "", w.message] for w in mkt.issues], table_id="tab-data-warnings")] \
        if mkt.issues else []
    return Section("limitations", "Limitations", [
        Paragraph(report_text.limitations(meta.profile)),
        Table("Reliability of the curated series", ["Series", "Grade", "Why"], grades, table_id="tab-reliability"),
        *warnings])


def methods_section() -> Section:
    return Section("methods", "Methods and errata of the source article",
                   [Paragraph(p) for p in report_text.METHODS] +
                   [Table("Errata: where the source article is wrong, and what bubblelens uses instead",
                          ["Article", "What it says", "What is used here"], report_text.ERRATA, table_id="tab-errata")])


def changes_section(changes: dict | None) -> Section | None:
    if not changes:
        return None
    blocks = [Paragraph(f"Compared with the previous build in this directory (build {changes['previous_build']}).")]
    for title, rows, cols in (("Verdicts that changed", changes["verdicts"], ["Claim", "Before", "Now"]),
                              ("Key metrics that moved", changes["metrics"], ["Metric", "Before", "Now"]),
                              ("Curated rows added, removed or changed", changes["rows"], ["Series", "Date", "Change"])):
        blocks.append(Table(title, cols, rows) if rows else Paragraph(f"{title}: none."))
    return Section("what-changed", "What changed since the previous build", blocks)


def cite_section(meta: ReportMeta) -> Section:
    return Section("how-to-cite", "Reproduce and cite", [Paragraph(report_text.REPRODUCE),
                                                         Paragraph(report_text.how_to_cite(meta)),
                                                         Paragraph(meta.licence_text)])


def assemble(cfg: BuildConfig, inputs: ReportInputs, meta: ReportMeta, manifest: dict, published: pd.DataFrame,
             costs) -> ReportContent:
    """The whole report from its inputs (evaluated runs, market, claims, charts and the analysis beside
    them, changes), the manifest to print, the published reference results and the cost table; nothing is
    read here."""
    ev, mkt, claims, charts, an = inputs, inputs.market, inputs.claims, inputs.charts, inputs.analysis
    d, v, m = cfg.dcgan, cfg.vae, cfg.mixture
    cfg_text = {"dcgan": f"width × {d.width}, {d.epochs} epochs, batch {d.batch_size}, Adam lr {d.lr:g} β1 {d.adam_beta1:g}, "
                         f"BatchNorm momentum {d.bn_momentum:g}"
                         + (" (Radford et al.'s optimiser, not the tutorial's lr 1e-4, β1 0.9, momentum 0.01)"
                            if (d.lr, d.adam_beta1, d.bn_momentum) != (1e-4, 0.9, 0.01) else " (the tutorial's)"),
                "vae": f"width × {v.width}, latent {v.latent_dim}, {v.epochs} epochs, batch {v.batch_size}",
                "mlp_gan": _mixture_config_text(m, cfg.profile)}
    if ev.origin.get("kind") == "bundle":
        cfg_text = {"bundle": "see the reproducibility appendix (configuration of the imported study)"}
    sources = sorted(mkt.sources.values(), key=lambda s: s.source_id)
    sections = [
        summary_section(meta, claims, list(inputs.answers)),
        Section("thesis", "The thesis and how it is tested", [Paragraph(p) for p in report_text.THESIS]),
        models_section(charts, ev.features_info, cfg_text),
        failures_section(ev, charts, an.summary, published, ev.real.get("n_fid", 0), cfg.mixture.pack),
        flow_evidence.flow_section(inputs, charts, cfg),
        compute_section(ev, charts, costs),
        market_section(mkt, charts),
        hype_section(charts, an.growth, an.summary, ev.runs),
        capability_evidence.capability_section(mkt, charts, claims, an.long.get("scales")),
        capability_evidence.spending_section(mkt, charts, an.long),
        market_evidence.long_series_section(charts, an.long, claims),
        market_evidence.bubble_section(mkt, charts, claims, an.sp500),
        limitations_section(meta, mkt),
        methods_section(),
    ]
    sections = [s for s in sections if s is not None]
    changed = changes_section(inputs.changes)
    if changed:
        sections.insert(1, changed)
    sections.append(cite_section(meta))
    return ReportContent(meta, sections, report_text.report_bibtex(meta), sources, manifest)
