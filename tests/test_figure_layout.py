"""No two texts of any figure overlap (tick labels, titles, axis labels, annotations, legend),
checked on the extents matplotlib's renderer gives them, for every figure drawn from the demo
run's tables and for a crowded synthetic case."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from llm_footprint import figures
from llm_footprint.figure_layout import overlapping_texts, spans_decades


@pytest.fixture
def checked_figures(monkeypatch):
    """figures.common.save (every figure's last call) replaced by one that records each
    figure's overlapping texts first."""
    found: dict[str, list] = {}
    original = figures.common.save

    def save(fig, png, svg):
        found[Path(png).name] = overlapping_texts(fig)
        original(fig, png, svg)

    monkeypatch.setattr(figures.common, "save", save)
    return found


def draw_every_figure(tables: Path, out: Path) -> None:
    def path(stem):
        return out / f"{stem}.png", out / f"{stem}.svg"

    models = sorted({r["model"] for r in csv.DictReader(open(tables / "energy.csv"))})
    figures.energy_components(tables / "energy.csv", *path("energy_components"))
    figures.quality_vs_energy(tables / "energy.csv", tables / "quality.csv", "perplexity",
                              "token_perplexity", "hardware_energy_per_output_token_j",
                              *path("quality_vs_energy"))
    figures.relative_change(tables / "relative_change.csv", *path("relative_change"))
    figures.feasibility_matrix(tables / "feasibility.csv", *path("feasibility"))
    figures.opt_scores(tables / "tradeoff.csv", *path("opt_scores"))
    for model in models:
        for unit in ("output_tokens", "replay_window"):
            figures.carbon_bubbles(tables / "carbon.csv", model, *path(f"bubbles_{unit}_{model}"),
                                   summary_csv=tables / "summary.csv", unit_of_work=unit)
        figures.paper_change(tables / "relative_change.csv", model,
                             {"task": "perplexity", "metric": "token_perplexity"},
                             "busy_time_s", "hardware_energy_kwh", *path(f"paper_change_{model}"),
                             summary_csv=tables / "summary.csv", unit_of_work="output_tokens")


def test_no_text_overlaps_in_the_demo_figures(demo_study_run, checked_figures, tmp_path):
    workdir, _ = demo_study_run
    draw_every_figure(workdir / "results" / "tables", tmp_path)
    assert len(checked_figures) >= 8
    crowded = {name: pairs for name, pairs in checked_figures.items() if pairs}
    assert not crowded, f"overlapping texts: {crowded}"


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_crowded_points_get_separate_labels_and_a_log_axis(checked_figures, tmp_path):
    """Two variants at almost the same point (the demo's full and ah-80) and one 10x off (a
    2:4-pruned model's perplexity): labels apart, the quality axis logarithmic."""
    values = {"full": (1.00, 18.7), "ah-80": (1.01, 19.0), "gptq-4bit": (2.4, 24.0),
              "rtn-4bit": (2.3, 26.1), "bnb-nf4": (1.6, 24.0), "sparsegpt-2of4": (1.3, 323.0)}
    energy = write_csv(tmp_path / "energy.csv", [
        {"model": "smollm2-135m", "variant": v, "setup": "laptop-cpu",
         "hardware_energy_per_output_token_j": j,
         "hardware_energy_per_output_token_j_ci95_half_width": 0.02} for v, (j, _) in values.items()])
    quality = write_csv(tmp_path / "quality.csv", [
        {"model": "smollm2-135m", "variant": v, "task": "perplexity", "metric": "token_perplexity",
         "value": p, "stderr": 0.3, "higher_is_better": "False"} for v, (_, p) in values.items()])
    figures.quality_vs_energy(energy, quality, "perplexity", "token_perplexity",
                              "hardware_energy_per_output_token_j", tmp_path / "q.png",
                              tmp_path / "q.svg")
    assert checked_figures["q.png"] == []
    assert spans_decades([p for _, p in values.values()])
    assert "log scale" in (tmp_path / "q.svg").read_text(encoding="utf-8")


def test_overlap_check_sees_what_is_drawn_and_only_that():
    """Two panels stacked edge to edge, y ticks at 0, 10, 20, 30: with the lower panel's view
    ending at 29.5 its '30' label is placed just above it, on the upper panel's '0', but not
    drawn (matplotlib places every tick's label, draws those in view), so nothing overlaps;
    with the view reaching 30.5 the '30' is drawn there and the pair is reported. The demo's
    opt_scores figure has the first case."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    def stacked(lower_top: float):
        fig = plt.figure(figsize=(4, 4))
        for bottom, top in ((0.5, 25.3), (0.1, lower_top)):
            ax = fig.add_axes((0.2, bottom, 0.7, 0.4))
            ax.bar([0], [22.0])
            ax.set_yticks([0, 10, 20, 30])
            ax.set_ylim(0, top)  # after the ticks, which would widen the view to 30
        return fig

    hidden, drawn = stacked(lower_top=29.5), stacked(lower_top=30.5)
    assert overlapping_texts(hidden) == []
    assert sorted(map(sorted, overlapping_texts(drawn))) == [["0", "30"]]
    plt.close(hidden)
    plt.close(drawn)


def test_point_labels_keep_off_error_bars_and_a_moved_label_points_home():
    """A point with other points' error bars just above and below it (the demo's bnb-nf4
    inside full's energy interval): its label touches no bar, and a label not at one of its
    point's corners is drawn with a leader line, so that it cannot read as the bar's point."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    from llm_footprint.figure_layout import CORNER_OFFSETS, place_point_labels, renderer_of

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_xlim(-1, 3)
    ax.set_ylim(-1, 1)
    # two bars on each side, about 12 and 23 px off: every corner of the point is covered
    bars = [((-0.8, y), (2.8, y)) for y in (0.1, -0.1, 0.2, -0.2)]
    for (x0, y0), (x1, y1) in bars:
        ax.plot([x0, x1], [y0, y1])
    (label,) = place_point_labels(ax, [(0.0, 0.0)], ["bnb-nf4"], bars=bars)
    renderer = renderer_of(fig)
    label.update_positions(renderer)
    box = Text.get_window_extent(label, renderer)  # the text, not its leader line
    for start, end in bars:
        (x0, y0), (x1, y1) = ax.transData.transform(start), ax.transData.transform(end)
        assert not box.overlaps(Bbox([[x0, y0 - 1], [x1, y1 + 1]]))
    assert tuple(round(v) for v in label.xyann) not in CORNER_OFFSETS
    assert label.arrow_patch is not None
    plt.close(fig)


def test_a_perplexity_six_times_the_others_turns_the_quality_axis_logarithmic(tmp_path):
    """The demo's case: SparseGPT 2:4 at 113 against 19-26 for the rest. On a linear axis the
    five were a sliver; on the log axis they are apart, with labelled 1-2-5 ticks (a log axis
    from 15 to 130 would otherwise label 100 alone), and each tick labelled with its value."""
    import matplotlib

    matplotlib.use("Agg")
    # a demo run's figures (J per token, its 95 % half-width, perplexity): the energy axis
    # ticks in steps of 0.025 J
    values = {"full": (1.5226, 0.0178, 18.69), "gptq-4bit": (1.4571, 0.0153, 24.11),
              "rtn-4bit": (1.4710, 0.0499, 26.08), "bnb-nf4": (1.4583, 0.0296, 23.96),
              "sparsegpt-2of4": (1.5219, 0.0222, 113.1), "ah-80": (1.5168, 0.0100, 21.27)}
    energy = write_csv(tmp_path / "energy.csv", [
        {"model": "smollm2-135m", "variant": v, "setup": "laptop-cpu",
         "hardware_energy_per_output_token_j": j,
         "hardware_energy_per_output_token_j_ci95_half_width": h}
        for v, (j, h, _) in values.items()])
    quality = write_csv(tmp_path / "quality.csv", [
        {"model": "smollm2-135m", "variant": v, "task": "perplexity", "metric": "token_perplexity",
         "value": p, "stderr": 0.3, "higher_is_better": "False"} for v, (_, _, p) in values.items()])
    drawn = {}
    original = figures.common.save

    def keep(fig, png, svg):
        drawn["ax"] = fig.axes[0]
        original(fig, png, svg)

    figures.common.save = keep
    try:
        figures.quality_vs_energy(energy, quality, "perplexity", "token_perplexity",
                                  "hardware_energy_per_output_token_j", tmp_path / "q.png",
                                  tmp_path / "q.svg")
    finally:
        figures.common.save = original
    ax = drawn["ax"]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    low, high = ax.get_ylim()
    labelled = [t for t in ax.get_yticks() if low <= t <= high]
    assert labelled == [20.0, 50.0, 100.0]
    # every tick label is its tick's value (three significant digits wrote 1.425 as 1.43)
    ax.figure.canvas.draw()
    for ticks, labels in ((ax.get_xticks(), ax.get_xticklabels()),
                          (ax.get_yticks(), ax.get_yticklabels())):
        shown = [(tick, label.get_text()) for tick, label in zip(ticks, labels)
                 if label.get_text()]
        assert shown and all(float(text) == pytest.approx(tick) for tick, text in shown)
    # the five within 19-26 take 13 % of the axes' height; 5.5 % on the linear axis
    ax_y = [ax.transAxes.inverted().transform(ax.transData.transform((1.5, p)))[1]
            for p in (18.69, 26.08)]
    assert ax_y[1] - ax_y[0] > 0.1
