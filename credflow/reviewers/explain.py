"""Agreement numbers in words: what percent agreement, Cohen's kappa or Krippendorff's alpha say, and their trust.

A bare "kappa 0.42 over 3 units" tells a lead reviewer or a program admin nothing. Each function
here turns one number into an :class:`Explained`: the number as printed, a sentence saying what
it means on the usual scale, the sample size, and a warning when the sample is too small to
trust. The scales are the ones the literature uses:

- Cohen's kappa: Landis & Koch (1977): below 0 poor, up to 0.20 slight, 0.40 fair,
  0.60 moderate, 0.80 substantial, above almost perfect.
- Krippendorff's alpha: Krippendorff (2004): at least 0.800 reliable, at least 0.667
  good enough for tentative conclusions only, below that unreliable.
- Percent agreement has no scale: it counts agreement that chance alone would give,
  so it is read beside kappa or alpha.

Pure: used by the lead's pages and by ``credflow report agreement``.
"""

from __future__ import annotations

from dataclasses import dataclass

from credflow.reviewers.rules import AgreementReport

__all__ = [
    "MIN_SAMPLE",
    "Explained",
    "explain_agreement",
    "explain_alpha",
    "explain_kappa",
    "explain_percent",
    "explain_share",
    "too_few",
]

#: Units below which an agreement number is flagged as too few to trust.
MIN_SAMPLE = 10

#: Landis & Koch's bands for kappa: (upper bound inclusive, label, range as printed).
KAPPA_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.20, "slight", "0.00–0.20"),
    (0.40, "fair", "0.21–0.40"),
    (0.60, "moderate", "0.41–0.60"),
    (0.80, "substantial", "0.61–0.80"),
    (1.00, "almost perfect", "0.81–1.00"),
)

#: A percent agreement at least this high beside a kappa at most this low is pointed out (the kappa paradox).
PARADOX_PERCENT = 0.8
PARADOX_KAPPA = 0.4

#: Krippendorff's thresholds for alpha.
ALPHA_RELIABLE = 0.800
ALPHA_TENTATIVE = 0.667


@dataclass(frozen=True)
class Explained:
    """One agreement number with its meaning in words.

    Attributes:
        value: The number as printed ("0.62", "85%", "n/a").
        sentence: What it means, one sentence.
        units: The sample size it rests on.
        warning: "Too few to trust: …" when the sample is below the minimum, else ``None``.
    """

    value: str
    sentence: str
    units: int
    warning: str | None = None

    @property
    def sample(self) -> str:
        """The sample size as a short label ("n=24")."""
        return f"n={self.units}"

    def text(self) -> str:
        """The whole explanation on one line: number, sentence, sample size and any warning."""
        parts = [f"{self.value}: {self.sentence}", f"({self.sample})"]
        if self.warning:
            parts.append(self.warning)
        return " ".join(parts)


def too_few(units: int, *, min_units: int = MIN_SAMPLE, what: str = "units") -> str | None:
    """The small-sample warning for ``units`` (``None`` at or above ``min_units``, and for no units at all)."""
    if units <= 0 or units >= min_units:
        return None
    return f"Too few to trust: n={units} (at least {min_units} {what} are needed before this number means much)."


def _kappa_band(kappa: float) -> tuple[str, str]:
    for upper, label, printed in KAPPA_BANDS:
        if round(kappa, 2) <= upper:
            return label, printed
    return KAPPA_BANDS[-1][1], KAPPA_BANDS[-1][2]


def explain_kappa(
    kappa: float | None, units: int, *, min_units: int = MIN_SAMPLE, percent: float | None = None
) -> Explained:
    """Cohen's kappa in words on Landis & Koch's scale.

    Args:
        kappa: The kappa, or ``None`` when undefined (both raters gave one and the same score throughout).
        units: The units it was computed over.
        min_units: Units below which the number is flagged as too few to trust.
        percent: The percent agreement over the same units, when known: a high percent with a low
            kappa (most verdicts the same, "the kappa paradox") is then pointed out.

    Returns:
        E.g. "0.62" with "substantial agreement beyond chance (Landis & Koch: 0.61–0.80)."
    """
    warning = too_few(units, min_units=min_units)
    if units == 0:
        return Explained("n/a", "Nothing to compare yet: no unit was scored by both.", 0)
    if kappa is None:
        return Explained(
            "n/a",
            "Not defined: every verdict was the same, so agreement cannot be told from chance; "
            "read the percent agreement.",
            units,
            warning,
        )
    if round(kappa, 2) == 0:
        sentence = "no agreement beyond chance: chance alone would give as much (Landis & Koch: slight, 0.00–0.20)."
    elif kappa < 0:
        sentence = "less agreement than chance alone would give (poor on Landis & Koch's scale)."
    else:
        label, printed = _kappa_band(kappa)
        sentence = f"{label} agreement beyond chance (Landis & Koch: {printed})."
    if percent is not None and percent >= PARADOX_PERCENT and kappa <= PARADOX_KAPPA:
        sentence += (
            f" Yet they agreed on {percent:.0%}: when nearly every verdict is the same, kappa counts most "
            "agreement as chance, so read the two together."
        )
    return Explained(f"{kappa:.2f}", sentence[0].upper() + sentence[1:], units, warning)


def explain_alpha(alpha: float | None, units: int, *, min_units: int = MIN_SAMPLE) -> Explained:
    """Krippendorff's alpha in words on Krippendorff's own thresholds (0.800 reliable, 0.667 tentative).

    Args:
        alpha: The alpha, or ``None`` when undefined.
        units: Units scored by two or more reviewers that it rests on.
        min_units: Units below which the number is flagged as too few to trust.
    """
    warning = too_few(units, min_units=min_units)
    if units == 0:
        return Explained("n/a", "Nothing to compare yet: no submission was scored on this by two reviewers.", 0)
    if alpha is None:
        return Explained(
            "n/a",
            "Not defined: every paired score was the same (all Met or all Not Yet), so reliability "
            "cannot be measured yet.",
            units,
            warning,
        )
    if alpha >= ALPHA_RELIABLE:
        sentence = "Reliable: reviewers score this consistently (Krippendorff: 0.800 or more)."
    elif alpha >= ALPHA_TENTATIVE:
        sentence = "Good enough for tentative conclusions only (Krippendorff: 0.667 to 0.800)."
    else:
        sentence = "Unreliable: reviewers do not score this consistently (Krippendorff: below 0.667)."
    return Explained(f"{alpha:.2f}", sentence, units, warning)


def explain_percent(
    share: float | None, units: int, *, min_units: int = MIN_SAMPLE, agreed: int | None = None
) -> Explained:
    """Percent agreement in words: how many units agreed, and that chance agreement is included.

    Args:
        share: The share of units agreed on, in [0, 1], or ``None`` when there is none.
        units: The units compared.
        min_units: Units below which the number is flagged as too few to trust.
        agreed: The units agreed on, when known (else ``share * units``, rounded).
    """
    if share is None or units == 0:
        return Explained("n/a", "Nothing to compare yet: no unit was scored twice.", 0)
    count = round(share * units) if agreed is None else agreed
    sentence = (
        f"Agreed on {count} of {units}. Percent agreement counts agreement that chance alone would "
        "give too, so read it beside kappa or alpha."
    )
    return Explained(f"{share:.0%}", sentence, units, too_few(units, min_units=min_units))


def explain_share(
    share: float | None,
    units: int,
    *,
    agreed: int,
    threshold: float,
    drifting: bool,
    min_units: int = MIN_SAMPLE,
    against: str = "the others",
) -> Explained:
    """One reviewer's (or criterion's) agreement with a reference, against the drift threshold.

    Args:
        share: ``agreed / units``, or ``None`` when there is nothing to compare.
        units: The units compared.
        agreed: The units that agreed.
        threshold: The share below which, over ``min_units`` or more, it counts as drifting.
        drifting: Whether it was flagged as drifting.
        min_units: Units below which the number is flagged as too few to trust.
        against: What it is compared with ("the back-read", "the others").
    """
    if share is None or units == 0:
        return Explained("n/a", f"Nothing to compare with {against} yet.", 0)
    head = f"Agreed with {against} on {agreed} of {units}"
    if drifting:
        sentence = f"{head}: below the {threshold:.0%} expected, over enough units to take seriously (drifting)."
    elif share < threshold:
        sentence = f"{head}: below the {threshold:.0%} expected, but too few units to call it drift."
    else:
        sentence = f"{head}: at or above the {threshold:.0%} expected."
    return Explained(f"{share:.0%}", sentence, units, too_few(units, min_units=min_units))


def explain_agreement(report: AgreementReport, *, min_units: int = MIN_SAMPLE) -> list[str]:
    """Every number of an agreement report explained, one line each, for the CLI's text output.

    Args:
        report: The agreement report.
        min_units: Units below which a number is flagged as too few to trust.

    Returns:
        Lines like "cohen kappa A / B: 0.62: Substantial agreement … (n=24)".
    """
    overall = explain_percent(report.percent, report.units, min_units=min_units)
    lines = [f"percent agreement, all criteria: {overall.text()}"]
    for criterion, alpha in report.alpha.items():
        n = report.criterion_units.get(criterion, 0)
        lines.append(f"krippendorff alpha, {criterion}: {explain_alpha(alpha, n, min_units=min_units).text()}")
    for pair in report.pairs:
        lines.append(
            f"cohen kappa, {pair.reviewer_a} / {pair.reviewer_b}: "
            f"{explain_kappa(pair.kappa, pair.units, min_units=min_units, percent=pair.percent).text()}"
        )
    drifting = set(report.drifting)
    for reviewer in report.reviewers:
        explained = explain_share(
            reviewer.share,
            reviewer.units,
            agreed=reviewer.agreed,
            threshold=report.drift_threshold,
            drifting=reviewer.reviewer_id in drifting,
            min_units=min_units,
        )
        lines.append(f"reviewer agreement, {reviewer.reviewer_id}: {explained.text()}")
    return lines
