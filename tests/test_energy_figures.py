"""Energy figures mark estimated components and carry 95 % intervals (hand-made tables)."""

from __future__ import annotations

from test_paper_figures import _write

from llm_footprint import figures

ESTIMATED = "estimated: CodeCarbon CPU load model (process CPU time share x 8 W)"
ENERGY = [
    {"model": "m", "variant": v, "setup": "cpu", "cpu_energy_kwh": cpu, "gpu_energy_kwh": 0.0,
     "ram_energy_corrected_kwh": 2e-5, "hardware_energy_kwh": cpu + 2e-5,
     "hardware_energy_kwh_ci95_half_width": 1e-6, "cpu_power_source": source,
     "gpu_power_source": "absent", "ram_power_source": "estimated: CodeCarbon RAM model"}
    for v, cpu, source in (("full", 3e-6, ESTIMATED), ("q4", 2e-6, "measured: RAPL"))
]
QUALITY = [{"model": "m", "variant": v, "task": "perplexity", "metric": "token_perplexity",
            "value": value, "stderr": "", "higher_is_better": "False"}
           for v, value in (("full", 18.0), ("q4", 27.0))]


def test_estimate_note_names_the_estimated_components_only():
    note = figures.estimate_note(ENERGY)
    assert note.startswith("CPU, RAM energy estimated")  # GPU absent, CPU estimated in one row
    assert figures.is_estimated(ENERGY[0], "cpu") and not figures.is_estimated(ENERGY[1], "cpu")
    assert not figures.is_estimated(ENERGY[0], "gpu")
    assert figures.estimate_note([{"cpu_power_source": "measured: RAPL"}]) is None


def test_energy_figures_draw_with_intervals_and_hatching(tmp_path):
    energy_csv = _write(tmp_path / "energy.csv", ENERGY)
    quality_csv = _write(tmp_path / "quality.csv", QUALITY)
    figures.energy_components(energy_csv, tmp_path / "c.png", tmp_path / "c.svg")
    figures.quality_vs_energy(energy_csv, quality_csv, "perplexity", "token_perplexity",
                              "hardware_energy_kwh", tmp_path / "q.png", tmp_path / "q.svg")
    components = (tmp_path / "c.svg").read_text()
    assert "±" in components and "hatched" in components
    assert (tmp_path / "q.png").stat().st_size > 5000
    assert "estimated by CodeCarbon" in (tmp_path / "q.svg").read_text()
