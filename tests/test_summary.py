"""The study summary, its significance tests, the recommendation and the report's front page,
on tables built here (the demo's own are checked in test_report_browser.py)."""

from __future__ import annotations

import math

import pytest

from llm_footprint.energy.stats import mean_ci95
from llm_footprint.front_page import front_page
from llm_footprint.quality.perplexity import perplexity_stderr
from llm_footprint.recommend import recommendation_rows
from llm_footprint.significance import Estimate, compare, paired_blocks_p_value, welch_p_value, z_p_value
from llm_footprint.summary import Tables, summary_rows

RECOMMEND = {"quality_floors": [{"task": "perplexity", "metric": "token_perplexity",
                                 "max_worsening_pct": 30}],
             "latency": {"max_latency_p95_s": None, "max_latency_p50_s": None,
                         "max_ttft_p50_s": None, "max_ttft_p90_s": None},
             "objective": {"figure": "energy", "scenario": "timed_replay", "country": None},
             "setups": []}


def estimate(values):
    stats = mean_ci95(values)
    return Estimate(stats["mean"], stats["ci95_half_width"], stats["n"])


def test_welch_from_the_interval_equals_welch_on_the_repeats():
    """The table keeps mean, 95 % half-width and n; the test on those must be scipy's own
    Welch test on the raw repeats (the independent reference)."""
    from scipy.stats import ttest_ind

    a, b = [1.00, 1.12, 0.93, 1.05], [1.20, 1.31, 1.18]
    expected = ttest_ind(a, b, equal_var=False).pvalue
    assert welch_p_value(estimate(a), estimate(b)) == pytest.approx(expected, rel=1e-9)
    assert compare(estimate(b), estimate(a)).significant == ("yes" if expected < 0.05 else "no")


def test_one_repeat_or_no_interval_is_never_called_significant():
    assert compare(Estimate(2.0, None, 1), estimate([1.0, 1.01, 0.99])).significant == "n/a"
    assert compare(Estimate(2.0), Estimate(1.0)).significant == "n/a"
    assert compare(None, Estimate(1.0)).change_pct is None


def test_z_test_on_standard_errors():
    from scipy.stats import norm

    p = z_p_value(Estimate(0.30, stderr=0.02), Estimate(0.25, stderr=0.02))
    assert p == pytest.approx(2 * norm.sf(0.05 / math.hypot(0.02, 0.02)))
    assert compare(Estimate(0.30, stderr=0.02), Estimate(0.25, stderr=0.02)).significant == "no"
    assert compare(Estimate(0.40, stderr=0.01), Estimate(0.25, stderr=0.01)).significant == "yes"


def test_accuracies_over_items_are_compared_by_an_exact_test_not_by_standard_errors_of_zero():
    """The demo's IFEval: the full model passed 0 of 10 prompts (lm-eval's standard error 0),
    bnb nf4 4 of 10 (0.163). The z-test on the two standard errors called that significant
    (p = 0.014); Fisher's exact test on the passed and failed prompts (scipy's fisher_exact
    and a hypergeometric sum as references) does not (p = 0.087)."""
    from scipy.stats import fisher_exact, hypergeom

    from llm_footprint.summary import quality_estimate

    full = {"metric": "prompt_level_strict_acc", "value": 0.0, "stderr": 0.0, "n_samples": 10}
    nf4 = {"metric": "prompt_level_strict_acc", "value": 0.4, "stderr": 0.1633,
           "n_samples": 10}
    assert z_p_value(quality_estimate(nf4), quality_estimate(full)) < 0.05
    comparison = compare(quality_estimate(nf4), quality_estimate(full))
    expected = fisher_exact([[4, 6], [0, 10]]).pvalue
    # two-sided: every table of 4 passes in 20 at most as likely as the one seen
    seen = hypergeom.pmf(4, 20, 4, 10)
    by_hand = sum(hypergeom.pmf(k, 20, 4, 10) for k in range(5)
                  if hypergeom.pmf(k, 20, 4, 10) <= seen * (1 + 1e-9))
    assert comparison.p_value == pytest.approx(expected) == pytest.approx(by_hand)
    assert (comparison.test, comparison.significant) == ("fisher_exact", "no")
    assert round(comparison.p_value, 3) == 0.087
    # 9 of 10 against 1 of 10 is real either way
    strong = compare(quality_estimate({**nf4, "value": 0.9}), quality_estimate({**full, "value": 0.1}))
    assert (strong.test, strong.significant) == ("fisher_exact", "yes")
    # not a whole number of items (an average of averages), or not a per-item accuracy
    # (IFEval's instruction-level accuracy counts instructions): the z-test, as lm-eval's errors say
    assert compare(quality_estimate({**nf4, "value": 0.4321}),
                   quality_estimate({**full, "stderr": 0.01})).test == "z"
    assert quality_estimate({**nf4, "metric": "inst_level_strict_acc"}).items is None


def test_perplexity_stderr_matches_the_per_token_standard_error():
    import numpy as np

    nll = np.array([2.1, 3.4, 0.7, 5.2, 2.9, 3.3, 1.8])
    ppl = math.exp(nll.mean())
    expected = ppl * nll.std(ddof=1) / math.sqrt(len(nll))
    assert perplexity_stderr(ppl, nll.sum(), float((nll ** 2).sum()), len(nll)) == pytest.approx(
        expected)
    assert perplexity_stderr(ppl, 2.0, 4.0, 1) is None


def test_paired_blocks_p_value_is_scipys_paired_t_test_and_sees_what_the_z_test_cannot():
    """The same text scored by two variants: block NLLs that vary a lot from passage to passage
    (hard and easy text) but differ by a steady 2 % in every block. The z-test on the two
    perplexities' standard errors sees the passages' spread on both sides and no difference;
    the paired test sees the difference. scipy's paired test on the raw blocks is the
    reference."""
    from scipy.stats import ttest_rel

    base = [100.0, 180.0, 60.0, 140.0, 220.0, 90.0, 160.0, 75.0]
    variant = [b * 1.02 + (0.3 if i % 2 else -0.3) for i, b in enumerate(base)]
    p = paired_blocks_p_value(variant, base)
    assert p == pytest.approx(ttest_rel(variant, base).pvalue, rel=1e-9) and p < 0.01
    spread = Estimate(sum(base) / 8, stderr=17.0), Estimate(sum(variant) / 8, stderr=17.3)
    assert compare(spread[1], spread[0]).significant == "no"
    paired = Estimate(spread[1].mean, stderr=17.3, paired_p_value=p)
    assert compare(paired, spread[0]).significant == "yes"
    assert compare(paired, spread[0]).test == "paired_t"
    assert paired_blocks_p_value(base, base) == 1.0
    assert paired_blocks_p_value([b + 1 for b in base], base) == 0.0
    assert paired_blocks_p_value(base[:3], base) is None and paired_blocks_p_value([1.0], [2.0]) is None


def test_quality_table_pairs_perplexity_only_on_the_same_tokens(tmp_path):
    """quality.csv's paired p-value: for each variant against its baseline, only where both
    scored the same tokens (equal fingerprints); a variant whose text differs keeps the
    z-test."""
    import json

    from llm_footprint.tables import quality_rows

    def write(variant, blocks, fingerprint):
        path = tmp_path / f"{variant}.json"
        perplexity = {"token_perplexity": math.exp(sum(blocks) / (64 * len(blocks))),
                      "block_tokens": 64, "block_nll_nats": blocks,
                      "scored_tokens_fingerprint": fingerprint}
        row = {"model": "m", "variant": variant, "task": "perplexity",
               "metric": "token_perplexity", "value": perplexity["token_perplexity"],
               "stderr": 0.5, "higher_is_better": False}
        path.write_text(json.dumps({"model": "m", "variant": variant, "rows": [row],
                                    "perplexity": perplexity}), encoding="utf-8")
        return path

    base = [150.0, 190.0, 120.0, 170.0]
    files = [write("full", base, "abc"), write("pruned", [b + 4 for b in base[:2]] +
                                                [b + 5 for b in base[2:]], "abc"),
             write("other-text", [b + 4 for b in base], "def")]
    rows = {r["variant"]: r for r in quality_rows(files, "full")}
    assert "paired_p_value" not in rows["full"] and "paired_p_value" not in rows["other-text"]
    assert rows["pruned"]["paired_blocks"] == 4
    assert rows["pruned"]["paired_p_value"] == pytest.approx(
        paired_blocks_p_value([b + 4 for b in base[:2]] + [b + 5 for b in base[2:]], base))


def tables(replay_full=(1.00, 1.02, 0.98), replay_small=(0.50, 0.52, 0.49),
           replay_similar=(1.01, 0.97, 1.03)) -> Tables:
    def energy_row(variant, values):
        stats = mean_ci95(list(values))
        return {"model": "m", "variant": variant, "setup": "cpu", "repeats": stats["n"],
                "hardware_energy_per_output_token_j": stats["mean"],
                "hardware_energy_per_output_token_j_ci95_half_width": stats["ci95_half_width"],
                "latency_p50_s": 0.5, "ttft_p50_s": 0.1}

    quality = [{"model": "m", "variant": v, "task": "perplexity", "metric": "token_perplexity",
                "value": value, "stderr": 0.1, "higher_is_better": "False"}
               for v, value in (("full", 18.0), ("small", 30.0), ("similar", 18.2))]
    carbon = [{"model": "m", "variant": v, "setup": "cpu", "country": c, "pue": 1.0,
               "intensity_g_per_kwh": g} for v in ("full", "small", "similar")
              for c, g in (("FRA", 50.0), ("DEU", 400.0))]
    return Tables(
        compression=[{"model": "m", "variant": v, "method": method, "size_on_disk_mb": size,
                      "compression_ratio": ratio}
                     for v, method, size, ratio in (("full", "none", 500, 1.0),
                                                    ("small", "gptq", 125, 4.0),
                                                    ("similar", "rtn", 130, 3.8))],
        quality=quality,
        energy=[energy_row("full", replay_full), energy_row("small", replay_small),
                energy_row("similar", replay_similar)],
        scenarios={}, carbon=carbon, tradeoff=[])


def test_summary_marks_real_and_unreal_changes():
    rows = {r["variant"]: r for r in summary_rows(tables(), "full", {})}
    assert rows["full"]["is_baseline"] and rows["full"]["replay_energy_per_output_token_significant"] == "n/a"
    small, similar = rows["small"], rows["similar"]
    assert small["replay_energy_per_output_token_change_pct"] == pytest.approx(-49.67, abs=0.01)
    assert small["replay_energy_per_output_token_significant"] == "yes"
    assert similar["replay_energy_per_output_token_significant"] == "no"
    assert small["perplexity_token_perplexity_significant"] == "yes"
    assert similar["perplexity_token_perplexity_significant"] == "no"
    # gCO2e per 1,000 output tokens: J/token x 1000 / 3.6e6 kWh x g/kWh
    assert small["gco2e_per_1000_output_tokens_DEU"] == pytest.approx(
        small["replay_energy_per_output_token_j"] * 1000 / 3.6e6 * 400)
    assert small["lowest_carbon_country"] == "FRA"
    assert small["highest_to_lowest_carbon_factor"] == pytest.approx(8.0)


def test_recommendation_honours_floors_and_names_ties():
    summary = summary_rows(tables(), "full", {})
    directions = {("perplexity", "token_perplexity"): False}
    rows = {r["variant"]: r for r in recommendation_rows(summary, RECOMMEND, directions)}
    assert not rows["small"]["feasible"]  # +66.7 % perplexity > 30 %
    assert "perplexity token_perplexity +66.7 % worse" in rows["small"]["breaks"]
    winner = [v for v, r in rows.items() if r["winner"]]
    assert winner == ["similar"] or winner == ["full"]
    other = "full" if winner == ["similar"] else "similar"
    assert rows[other]["indistinguishable_from_winner"] == "yes"
    # once the floor allows it, the small variant wins and the others are distinguishable
    relaxed = {**RECOMMEND, "quality_floors": [{**RECOMMEND["quality_floors"][0],
                                                "max_worsening_pct": 100}]}
    rows = {r["variant"]: r for r in recommendation_rows(summary, relaxed, directions)}
    assert rows["small"]["winner"] and rows["small"]["rank"] == 1
    assert rows["full"]["indistinguishable_from_winner"] == "no"


def test_latency_limit_and_gco2e_objective():
    summary = summary_rows(tables(), "full", {})
    limited = {**RECOMMEND, "latency": {**RECOMMEND["latency"], "max_latency_p50_s": 0.1}}
    rows = recommendation_rows(summary, limited, {("perplexity", "token_perplexity"): False})
    assert not any(r["feasible"] for r in rows)
    assert all("latency_p50_s 0.5 s > 0.1 s" in r["breaks"] for r in rows)
    carbon = {**RECOMMEND, "objective": {"figure": "gco2e", "scenario": "timed_replay",
                                         "country": "DEU"}}
    rows = recommendation_rows(summary, carbon, {("perplexity", "token_perplexity"): False})
    winner = next(r for r in rows if r["winner"])
    assert winner["objective_unit"] == "gCO2e (DEU) per output token"
    assert winner["objective_value"] == pytest.approx(
        next(s for s in summary if s["variant"] == winner["variant"])
        ["replay_energy_per_output_token_j"] / 3.6e6 * 400)


def test_front_page_is_valid_restructuredtext(tmp_path):
    """docutils, as Snakemake's report uses it, renders the page without a warning."""
    from docutils.core import publish_parts

    summary = summary_rows(tables(), "full", {})
    directions = {("perplexity", "token_perplexity"): False}
    recommendation = recommendation_rows(summary, RECOMMEND, directions)
    text = front_page("Intro.", summary, recommendation, RECOMMEND,
                      [{"method": "gptq"}, {"method": "rtn"}], ["timed_replay"],
                      {"FRA": {3: 20.0, 12: 60.0}}, tmp_path / "front.rst")
    html = publish_parts(text, writer="html",
                         settings_overrides={"halt_level": 2, "report_level": 2})["html_body"]
    assert "Study summary" in html and "Recommendation" in html and "Choose m / " in html
    assert "methods gptq, rtn" in html
    assert "FRA at hour 3" in html
    assert (tmp_path / "front.rst").read_text(encoding="utf-8") == text


def test_break_even_in_units_of_work_with_its_range():
    from llm_footprint.summary import break_even

    tokens, low, high = break_even(3.6e6, Estimate(1.0, 0.1, 3), Estimate(2.0, 0.1, 3))
    assert tokens == pytest.approx(3.6e6)
    assert low == pytest.approx(3.6e6 / (1 + math.hypot(0.1, 0.1)))
    assert high == pytest.approx(3.6e6 / (1 - math.hypot(0.1, 0.1)))
    assert break_even(3.6e6, Estimate(2.5, 0.1, 3), Estimate(2.0, 0.1, 3))[0] == "never"
    # a saving inside its own interval: the range reaches "never"
    assert break_even(1.0, Estimate(1.9, 0.2, 3), Estimate(2.0, 0.2, 3))[2] == "never"


def test_summary_break_even_days_at_the_replay_rate():
    table = tables()
    for row in table.energy.values():
        row.update(output_tokens=120, duration_s=60)  # 2 output tokens per second
    summary = {r["variant"]: r for r in summary_rows(table, "full", {},
                                                     compression_kwh={("m", "small"): 0.001})}
    small = summary["small"]
    saving_j = (summary["full"]["replay_energy_per_output_token_j"]
                - small["replay_energy_per_output_token_j"])
    assert small["breakeven_replay_output_tokens"] == pytest.approx(3600 / saving_j)
    assert small["breakeven_replay_days"] == pytest.approx(3600 / saving_j / 2 / 86400)
    assert summary["similar"]["breakeven_replay_output_tokens"] is None  # no compression record


FOOTPRINT = {"enabled": True, "measure_power_secs": 1, "ram_correction_factor": 1.0,
             "tracker": {"country_iso_code": "BEL", "tracking_mode": "process",
                         "measure_power_secs": 1}}


def busy(seconds: float) -> None:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(i * i for i in range(1000))


def test_a_tracked_job_leaves_its_footprint_and_a_failed_one_none(tmp_path):
    """Real CodeCarbon around a short CPU-bound block."""
    import json

    from llm_footprint.job_footprint import tracked_job

    out = tmp_path / "job.json"
    with tracked_job(out, "compress", {"model": "m", "variant": "v"}, FOOTPRINT, "cpu"):
        busy(2.5)
    record = json.loads(out.read_text())
    assert record["tracked"] and record["hardware_energy_kwh"] > 0
    assert record["wall_time_s"] == pytest.approx(2.5, abs=1.0)
    assert record["gpu_hours"] == 0 and record["provenance"]["versions"]
    failed = tmp_path / "failed.json"
    with pytest.raises(ZeroDivisionError):
        with tracked_job(failed, "compress", {}, FOOTPRINT, "cpu"):
            1 / 0
    assert not failed.exists()
    untracked = tmp_path / "untracked.json"
    with tracked_job(untracked, "evaluate", {}, {**FOOTPRINT, "enabled": False}, "cpu"):
        pass
    assert json.loads(untracked.read_text())["tracked"] is False


def test_study_footprint_sums_rules_and_converts_per_country():
    from llm_footprint.study_footprint import footprint_rows

    jobs = [{"rule": "compress", "time_basis": "whole job", "hardware_energy_kwh": 0.002,
             "wall_time_s": 100.0, "gpu_hours": 0.0},
            {"rule": "compress", "time_basis": "whole job", "hardware_energy_kwh": 0.001,
             "wall_time_s": 50.0, "gpu_hours": 0.0},
            {"rule": "evaluate", "time_basis": "untracked", "hardware_energy_kwh": None,
             "wall_time_s": 30.0, "gpu_hours": 0.5}]
    rows = {r["rule"]: r for r in footprint_rows(jobs, ["FRA", "DEU"], 1.2)}
    assert rows["compress"]["jobs"] == 2
    assert rows["compress"]["hardware_energy_kwh"] == pytest.approx(0.003)
    assert rows["evaluate"]["untracked_jobs"] == 1
    total = rows["total"]
    assert total["wall_time_s"] == 180 and total["gpu_hours"] == 0.5
    assert total["gco2e_DEU"] / total["gco2e_FRA"] > 1
    from llm_footprint.carbon import IntensityTable

    france = IntensityTable().lookup("FRA").g_co2e_per_kwh
    assert total["gco2e_FRA"] == pytest.approx(0.003 * 1.2 * france)


def test_bad_recommend_section_is_refused_naming_the_key():
    from conftest import SCHEMA, demo_config
    from llm_footprint.schema import ConfigError
    from llm_footprint.study import load_study

    config = demo_config()
    config["recommend"]["objective"] = {"figure": "gco2e", "scenario": "timed_replay",
                                        "country": "USA"}
    with pytest.raises(ConfigError, match="recommend.objective.country"):
        load_study(config, SCHEMA)
    config = demo_config()
    config["recommend"]["quality_floors"].append(
        {"task": "hellaswag", "metric": "acc", "max_worsening_pct": 5})
    with pytest.raises(ConfigError, match=r"recommend.quality_floors\[2\].task"):
        load_study(config, SCHEMA)
    config = demo_config()
    config["report"] = {"unit_of_work": "fixed_workload_run"}
    config["energy"].pop("scenarios")
    with pytest.raises(ConfigError, match="report.unit_of_work"):
        load_study(config, SCHEMA)
