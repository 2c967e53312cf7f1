"""Is a change against the baseline real? Two-sided tests at 95 % on the figures the tables keep.

The energy tables keep, per figure, the mean over the repeats, the half-width of its Student-t
95 % interval and the number of repeats. Those three give back the sample standard deviation
exactly (sd = half-width x sqrt(n) / t(0.975, n - 1)), so Welch's t-test on the summary is the
same test as on the repeats themselves. Quality metrics come with lm-eval's standard error of
the mean (or, for token-level perplexity, the project's own): two independent estimates, a
two-sided z-test on their difference. Token-level perplexity against its baseline is paired
instead wherever both scored the same tokens: both variants' NLL over the same blocks of
tokens, a one-sample t-test on the blocks' differences (paired_blocks_p_value). Scoring one
text twice, the z-test treats the text's own hard and easy passages as noise on each side; the
paired test removes them (the demo's head pruning, +13.8 % perplexity: z-test p = 0.086, paired
p = 1e-11, over 40 blocks). An accuracy over items (MMLU's acc, IFEval's prompt-level
accuracies) is compared by Fisher's exact test on the passed and failed items instead: the
z-test's standard errors are 0 at 0/10 or 10/10, so a 4/10 beside a 0/10 came out
"significant" (p = 0.014) where the exact test gives p = 0.087. The items are the same for both
variants, so the exact test for two independent samples is conservative (a paired test on the
per-item outcomes would need lm-eval's samples). With fewer than two repeats, or no interval,
a change is "n/a": never called significant for lack of evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .cells import change_pct

ALPHA = 0.05
SIGNIFICANT, NOT_SIGNIFICANT, NOT_TESTED = "yes", "no", "n/a"


@dataclass(frozen=True)
class Estimate:
    """A measured figure: its mean and either the repeats' 95 % half-width and count, or a
    standard error (quality metrics)."""

    mean: float
    ci95_half_width: float | None = None
    n: int | None = None
    stderr: float | None = None
    # the paired test's p-value against the baseline, where one ran (token-level perplexity)
    paired_p_value: float | None = None
    # for a share of items passed (an accuracy of 0/1 outcomes), how many items: the share
    # and the count give the passes, which the exact test compares
    items: int | None = None

    @property
    def sd(self) -> float | None:
        """Sample standard deviation of the repeats, from the interval they produced."""
        if self.ci95_half_width is None or not self.n or self.n < 2:
            return None
        from scipy.stats import t

        return self.ci95_half_width * math.sqrt(self.n) / float(t.ppf(0.975, self.n - 1))


@dataclass(frozen=True)
class Comparison:
    change_pct: float | None
    p_value: float | None
    significant: str  # yes / no / n/a
    test: str  # welch_t / paired_t / fisher_exact / z / none

    def as_columns(self, prefix: str) -> dict[str, object]:
        return {f"{prefix}_change_pct": self.change_pct, f"{prefix}_p_value": self.p_value,
                f"{prefix}_significant": self.significant}


def welch_p_value(a: Estimate, b: Estimate) -> float | None:
    """Two-sided p-value of Welch's t-test from the two summaries; None without two repeats
    on each side."""
    sd_a, sd_b = a.sd, b.sd
    if sd_a is None or sd_b is None:
        return None
    if sd_a == 0 and sd_b == 0:
        # identical repeats on both sides: any difference in the means is exact
        return 0.0 if a.mean != b.mean else 1.0
    from scipy.stats import ttest_ind_from_stats

    result = ttest_ind_from_stats(a.mean, sd_a, a.n, b.mean, sd_b, b.n, equal_var=False)
    return float(result.pvalue)


def paired_blocks_p_value(variant_blocks: list[float], baseline_blocks: list[float]
                          ) -> float | None:
    """Two-sided p-value of a one-sample t-test on the per-block differences of two runs over
    the same blocks; None with fewer than two blocks or blocks that do not pair."""
    if len(variant_blocks) != len(baseline_blocks) or len(variant_blocks) < 2:
        return None
    differences = [a - b for a, b in zip(variant_blocks, baseline_blocks)]
    mean = math.fsum(differences) / len(differences)
    if all(d == differences[0] for d in differences):
        # no spread: the difference is exact (zero, or the same in every block)
        return 1.0 if mean == 0 else 0.0
    from scipy.stats import ttest_1samp

    return float(ttest_1samp(differences, 0.0).pvalue)


def paired_perplexity_p_values(perplexities: dict[tuple[str, str], dict | None],
                               baseline_variant: str, teachers: dict[str, str | None]
                               ) -> dict[tuple[str, str], tuple[float, int]]:
    """(model, variant) -> (paired p-value, blocks) of its token-level perplexity against its
    baseline (the model's baseline variant; a distilled model's teacher's), for every pair
    that scored the same tokens (equal fingerprints: the same tokenizer, text and windows)."""
    found = {}
    for (model, variant), mine in perplexities.items():
        base_key = (teachers.get(model) or model, baseline_variant)
        base = perplexities.get(base_key)
        if (model, variant) == base_key or not mine or not base:
            continue
        fingerprint = mine.get("scored_tokens_fingerprint")
        if not fingerprint or fingerprint != base.get("scored_tokens_fingerprint") \
                or mine.get("block_tokens") != base.get("block_tokens"):
            continue
        p_value = paired_blocks_p_value(mine["block_nll_nats"], base["block_nll_nats"])
        if p_value is not None:
            found[(model, variant)] = (p_value, len(mine["block_nll_nats"]))
    return found


def add_paired_perplexity_columns(rows: list[dict], perplexities: dict[tuple[str, str], dict],
                                  baseline_variant: str, teachers: dict[str, str | None]) -> None:
    """``paired_p_value`` and ``paired_blocks`` on the token-level perplexity rows of quality.csv
    that paired_perplexity_p_values could test."""
    paired = paired_perplexity_p_values(perplexities, baseline_variant, teachers)
    for row in rows:
        if row["metric"] == "token_perplexity" and (row["model"], row["variant"]) in paired:
            row["paired_p_value"], row["paired_blocks"] = paired[(row["model"], row["variant"])]


def z_p_value(a: Estimate, b: Estimate) -> float | None:
    """Two-sided p-value of the difference of two independent estimates with standard errors."""
    if a.stderr is None or b.stderr is None:
        return None
    spread = math.hypot(a.stderr, b.stderr)
    if spread == 0:
        return 0.0 if a.mean != b.mean else 1.0
    from scipy.stats import norm

    return float(2 * norm.sf(abs(a.mean - b.mean) / spread))


# lm-eval metrics that are the mean of one 0/1 outcome per item (document or prompt); ifeval's
# inst_level_* are not (their denominator is the instructions, not the prompts)
PER_ITEM_ACCURACIES = frozenset({"acc", "acc_norm", "exact_match", "prompt_level_strict_acc",
                                 "prompt_level_loose_acc"})


def items_passed(share: float, items: int | None) -> int | None:
    """The items passed behind an accuracy over ``items`` items; None when the share is not
    a whole number of them (then it is no per-item accuracy)."""
    if not items or items < 1 or not 0 <= share <= 1:
        return None
    passed = round(share * items)
    return passed if abs(passed - share * items) < 1e-6 else None


def exact_p_value(a: Estimate, b: Estimate) -> float | None:
    """Two-sided p-value of Fisher's exact test on two accuracies' passed and failed items;
    None unless both are whole counts of items."""
    passed_a, passed_b = items_passed(a.mean, a.items), items_passed(b.mean, b.items)
    if passed_a is None or passed_b is None:
        return None
    from scipy.stats import fisher_exact

    table = [[passed_a, a.items - passed_a], [passed_b, b.items - passed_b]]
    return float(fisher_exact(table).pvalue)


def compare(value: Estimate | None, baseline: Estimate | None) -> Comparison:
    """The change of ``value`` against ``baseline`` in % and whether it is significant at 95 %."""
    if value is None or baseline is None:
        return Comparison(None, None, NOT_TESTED, "none")
    change = change_pct(value.mean, baseline.mean)
    if value.paired_p_value is not None:
        p_value, test = value.paired_p_value, "paired_t"
    elif (exact := exact_p_value(value, baseline)) is not None:
        p_value, test = exact, "fisher_exact"
    elif value.stderr is not None or baseline.stderr is not None:
        p_value, test = z_p_value(value, baseline), "z"
    else:
        p_value, test = welch_p_value(value, baseline), "welch_t"
    if p_value is None:
        return Comparison(change, None, NOT_TESTED, "none")
    return Comparison(change, p_value, SIGNIFICANT if p_value < ALPHA else NOT_SIGNIFICANT, test)

