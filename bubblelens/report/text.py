"""Fixed prose of the report: what is measured and how, the formulas used, the source article's errata.

Nothing here contains a measured number; numbers are inserted by report/content.py from the results.
"""
from __future__ import annotations

THESIS = [
    "The article this project grew from (“Generative AIGC: gold mine or bubble? Part 2: AI is not a panacea”) "
    "explains GANs and VAEs, reproduces the TensorFlow DCGAN tutorial, lists challenges — quality control, data "
    "safety, compute cost — and asks whether the field is a bubble. It does so in prose, without one measurement.",
    "bubblelens turns the argument into claims that data can contradict. It trains the article's own DCGAN, a "
    "convolutional VAE and small GANs on 2-D Gaussian mixtures where mode collapse can be counted exactly, and "
    "beside them flow matching, the family that replaced them, on the same data; measures "
    "quality, failure modes and compute; joins these with curated, quoted market data; and tests a registry of "
    "claims (data/claims.toml) whose decision rules, with the date each was declared and revised and what was "
    "already known then, are fixed before a build runs; `bubblelens claims check` shows which verdicts each rule "
    "can reach at the sizes in hand.",
    "A verdict may go against the thesis — that is the point of testing it. 'Inconclusive' is an honest outcome "
    "when seeds are too few or series too short, and the report says which.",
]

MODELS_INTRO = (
    "Four model families are trained by this build with PyTorch. **DCGAN**: the TensorFlow DCGAN tutorial that "
    "the article reproduces (generator 2,305,472 and discriminator 212,865 trainable parameters at full width; "
    "smaller profiles scale every channel count by a width multiplier), binary cross-entropy on logits, Adam. "
    "**VAE**: a convolutional variational autoencoder with the correct ELBO (see Methods). **MLP GANs** on the "
    "ring of 8 and grid of 25 Gaussians of PacGAN's public set-up (the mixtures a profile trains are stated below), "
    "each as a vanilla GAN and with PacGAN's packing. **Flow matching** (rectified flow, 2023), the modern "
    "family: a U-Net on the images and an MLP on the same mixtures, sampled at several numbers of steps "
    "(section 'The modern family'). "
    "Models train on the Fashion-MNIST training images of the profile and are measured against held-out test images."
)

FAILURES_INTRO = (
    "Quality is measured in the feature space of the domain classifier: Fréchet distance (FID) and kernel inception "
    "distance (KID, unbiased MMD² with a cubic kernel), improved precision and recall (Kynkäänniemi et al. 2019) and "
    "density and coverage (Naeem et al. 2020). Failure modes: class coverage of generated images (the classifier's "
    "predicted-class histogram), blur (variance of the Laplacian and the high-frequency share of the power spectrum, "
    "relative to real images), posterior collapse (VAE active units, Burda et al. 2015) and memorisation (nearest-"
    "neighbour distance to training images against held-out images; a ratio well below 1 would suggest copying)."
)

MIXTURE_INTRO = (
    "On a mixture, mode collapse can be counted exactly. Following PacGAN, a sample is high quality when it lies "
    "within three standard deviations of its nearest mode, and a mode is captured when at least one high-quality "
    "sample is nearest to it. Each seed is an independent training run on PacGAN's recipe (G: four Linear, "
    "BatchNorm, ReLU layers; D: three maxout layers of the same width for every packing degree; N(0, 0.02) "
    "weights), at the width, optimiser and length stated under Models. A run whose high-quality share stays below "
    "the declared convergence floor has not learned the mixture: that is counted as a failure to converge, not "
    "as mode dropping."
)

SAMPLING = (
    "**How samples are drawn (declared before the runs).** Every generator is sampled as the tutorial samples "
    "it (`training=False`): BatchNorm uses its running statistics. With a fast-moving generator the running "
    "statistics can trail the weights, so the DCGAN's samples are also drawn with BatchNorm normalising each "
    "batch of 1,000 by its own statistics, and that FID is reported beside the scored one (not scored, since "
    "such samples depend on the sampling batch). VAE samples are the decoder's means for z ~ N(0, I), as the "
    "blur comparison needs; draws from p(x|z) would add pixel noise and flip the blur verdict by construction. "
    "Flow matching's samples integrate its learned velocity from Gaussian noise with a fixed number of Euler steps; "
    "the scored ones use the largest number the profile sweeps."
)

COMPUTE_INTRO = (
    "Compute is counted, not estimated: torch.utils.flop_counter records the floating-point operations "
    "(matrix multiplications and convolutions, forward and backward of both networks) of one training step of "
    "each distinct shape — a full batch, and an epoch's last, partial batch — and a run's training FLOPs are the "
    "sum over its steps of the count of that step's shape; sampling FLOPs are counted separately. Wall time, "
    "peak memory (each unit's own: the resident high-water mark is reset when it starts) and throughput are "
    "measured on the hardware named on the cover; seeds of a 2-D mixture train in batched ensembles and report "
    "1/E shares of their ensemble's. Utilisation (MFU) is stated only against the sourced peak of the device "
    "actually used; data/costs "
    "has no sourced CPU peak, so CPU runs state none. Dollar figures are estimates from a quoted price and "
    "appear only where data/costs holds one."
)

MARKET_INTRO = (
    "The curated series live in data/market/, one CSV per series, every value carrying the source and the quoted "
    "passage it came from (Appendix A). Analysts class each series in a category of data/market/categories.toml "
    "(hype, adoption, capability, cost, revenue, disillusionment, and the survey, reference and assumption "
    "classes that frame the others); the table says how and why. Values are shown as published — nominal dollars, survey shares "
    "of different panels — and the reliability grade of each series is in the Limitations section."
)

HYPE_INTRO = (
    "Hype and capability are put on one time axis by indexing each series to its first value in the direction of "
    "'more': falling inference prices and MMLU error rates are inverted, so that a rising line always means more "
    "capability per dollar. Growth rates are log-linear fits with 95 % intervals on irregularly spaced dates."
)

METHODS = [
    "**GAN losses.** Discriminator: L_D = −E[log D(x)] − E[log(1 − D(G(z)))]; generator (non-saturating): "
    "L_G = −E[log D(G(z))], both as binary cross-entropy on logits, the fake batch detached for the discriminator "
    "step. PacGAN: the discriminator sees m samples concatenated (packing degree m) and is otherwise unchanged.",
    "**VAE objective.** ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I)), with Bernoulli (binary cross-entropy) "
    "reconstruction on pixels scaled to [0, 1], z = μ + σ·ε (reparameterisation) and "
    "KL = −½ Σ (1 + log σ² − μ² − σ²).",
    "**FID.** ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½) in float64, the trace of the square root taken from the "
    "eigenvalues of the (non-symmetric) product. FID is biased by n, so only equal-n values are compared.",
    "**KID.** Mean and standard deviation over random subsets of the unbiased MMD² with k(x, y) = (xᵀy / d + 1)³.",
    "**Precision, recall, density, coverage.** k-nearest-neighbour balls (k = 5) in feature space with the "
    "conventions of the reference implementation (Euclidean distances, radius = distance to the k-th nearest other "
    "point, strict inequality).",
    "**Statistics.** Means across seeds carry 95 % t intervals; proportions Clopper–Pearson intervals; growth "
    "factors come from log-linear least squares with t intervals on the slope (Newey–West errors for regular "
    "series), or, for a series a claim models as a random walk with drift (NVIDIA's revenue), from the mean log "
    "step with its t interval. Explosive-root p-values for NVIDIA's revenue in logs come from Monte Carlo random "
    "walks with the series' own drift; for the S&P 500 valuation ratios in levels from an AR sieve wild bootstrap "
    "of each ratio (no drift). Each claim's probability of every verdict under alternatives fitted to the data "
    "is simulated with the claim's own rule at the sizes in hand (claims/operating.py).",
]

ERRATA = [
    ["§3.1.4 GAN pseudo-code", "D_loss = −(real − generated logits), G_loss = −generated logits: the Wasserstein "
     "critic form without a Lipschitz constraint, fake batch not detached", "Binary cross-entropy GAN losses of §4.1.3 "
     "(which are right), fake batch detached for the discriminator step"],
    ["§3.2.4 VAE pseudo-code", "KL = −½ Σ (1 + log σ² − σ⁴ − 1); no reparameterisation; reconstruction scored "
     "against a different batch", "KL = −½ Σ (1 + log σ² − μ² − σ²), z = μ + σ·ε, reconstruction of the same batch"],
    ["§4.2.3 VAE loss", "A regulariser β·E[log (1/π) exp(−½ Σ(σ² + μ²))] that is not a KL divergence",
     "ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)); β-VAE only when β ≠ 1 is stated"],
    ["§4.2.1", "z = E(x) = μ(x), σ(x)", "The encoder outputs the parameters of q(z|x); z is sampled from it"],
    ["§2.2–2.3", "GAN and VAE merged into one encoder → generator → decoder → discriminator pipeline",
     "Two separate models, trained separately"],
    ["§5.2, §4.3", "DCGAN code said to generate faces that 'approach real faces'", "It is the 28 × 28 × 1 MNIST "
     "tutorial model; its quality is measured here, not asserted"],
]

REPRODUCE = (
    "Every number in this report was measured by the build named on the cover (or read from the imported results "
    "bundle it names) or quoted from a source in Appendix A. The same inputs, cached results and "
    "SOURCE_DATE_EPOCH give a byte-identical PDF. To reproduce: `bubblelens build --profile PROFILE`; "
    "`bubblelens config show --profile PROFILE` prints the configuration, and manifest.json in the build "
    "directory holds the fingerprints below."
)


def limitations(profile: str) -> str:
    text = ("Curated market data are secondary sources in many cases, with short and irregular series; survey "
            "shares come from different panels and vintages. Growth fits on two or three points are point estimates "
            "at best. Feature-space metrics use a small domain classifier, not Inception, so absolute FIDs are not "
            "comparable to the literature. ")
    if profile != "full":
        text += (f"This is a **{profile}**-profile build: models are narrow and train for minutes on a CPU, far short "
                 "of the reference study (the article's full-width DCGAN, 50 epochs, five or more seeds, on a GPU). "
                 "Verdicts on model behaviour are therefore indicative, and the compute sweep spans only the training "
                 "length of one width (snapshots of the reference runs), not widths.")
    return text


def how_to_cite(meta) -> str:
    return (f"bubblelens ({meta.date_text[:4]}). {meta.title}: {meta.subtitle}. Build {meta.build_id}, profile "
            f"{meta.profile}, bubblelens {meta.version}. Each chart is citable on its own by its id: "
            "`bubblelens cite CHART_ID` prints its citation, and charts/CHART_ID.json holds its data, sources and BibTeX.")


def report_bibtex(meta) -> str:
    return (f"@techreport{{bubblelens_{meta.build_id},\n  title = {{{meta.title}}},\n"
            f"  author = {{{{bubblelens}}}},\n  year = {{{meta.date_text[:4]}}},\n"
            f"  institution = {{bubblelens}},\n  number = {{build {meta.build_id}, profile {meta.profile}}},\n"
            f"  note = {{{meta.subtitle}; CC BY 4.0}}\n}}\n")
