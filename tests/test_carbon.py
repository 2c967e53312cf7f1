"""Carbon accounting: intensity look-up, operational and embodied arithmetic, hourly profiles."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import SCHEMA, demo_config
from llm_footprint import carbon
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study


def test_shipped_thesis_intensities():
    table = carbon.IntensityTable()
    expected = {"BEL": 153.14, "DEU": 333.77, "FRA": 33.44, "NLD": 262.93}
    for country, value in expected.items():
        found = table.lookup(country)
        assert found.g_co2e_per_kwh == value and found.year == 2024 and found.basis == "life-cycle"


def test_other_countries_fall_back_to_codecarbon_with_the_source_recorded():
    found = carbon.IntensityTable().lookup("SWE")
    assert found.g_co2e_per_kwh == pytest.approx(40.695)
    assert "CodeCarbon" in found.source and "global_energy_mix" in found.source


def test_user_file_overrides_shipped_and_fallback(tmp_path):
    user = tmp_path / "mine.csv"
    user.write_text("country,year,g_co2e_per_kwh,basis,source\n"
                    "BEL,2025,120.0,life-cycle,my utility\nSWE,2024,25.0,direct,my grid data\n")
    table = carbon.IntensityTable(user)
    assert table.lookup("BEL").g_co2e_per_kwh == 120.0  # the user's rows replace the shipped ones
    assert table.lookup("SWE").source == "my grid data"
    assert table.lookup("DEU").g_co2e_per_kwh == 333.77


def test_unknown_country_is_an_error_not_a_world_average():
    with pytest.raises(carbon.UnknownCountry, match="'XYZ'"):
        carbon.IntensityTable().lookup("XYZ")
    with pytest.raises(carbon.UnknownCountry, match="alpha-3"):
        carbon.IntensityTable().lookup("BE")


def test_unknown_country_in_the_config_names_the_key():
    config = demo_config()
    config["carbon"] = {"countries": ["BEL", "ZZZ"]}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == "carbon.countries[1]"


def test_two_letter_country_is_refused_by_the_schema():
    config = demo_config()
    config["carbon"] = {"countries": ["BE"]}
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA)
    assert caught.value.key == "carbon.countries[0]"


ENERGY = {"model": "m", "variant": "v", "setup": "s", "cpu_energy_kwh": "0.7",
          "gpu_energy_kwh": "0.8", "ram_energy_corrected_kwh": "0.3", "duration_s": "14400",
          "requests_per_run": "2400"}


def test_operational_and_embodied_against_hand_computed_values():
    embodied = {"gpu_kgco2e": 150.0, "host_kgco2e": 50.0, "lifetime_years": 5.0, "utilisation": 0.5}
    rows = carbon.carbon_rows([ENERGY], ["DEU"], carbon.IntensityTable(), pue=1.2,
                              setups={"s": {"embodied": embodied}})
    row = rows[0]
    assert row["hardware_energy_kwh"] == pytest.approx(1.8)
    assert row["facility_energy_kwh"] == pytest.approx(2.16)
    assert row["operational_gco2e"] == pytest.approx(1.8 * 1.2 * 333.77)
    # 200 kg over 5 years used half the time: 4 h of use carry 200e3 g x 14400 / (5 x 365.25 x 86400 x 0.5)
    expected_embodied = 200e3 * 14400 / (5 * 365.25 * 86400 * 0.5)
    assert row["embodied_gco2e"] == pytest.approx(expected_embodied)
    assert row["total_gco2e"] == pytest.approx(row["operational_gco2e"] + expected_embodied)
    assert row["operational_gco2e_per_request"] == pytest.approx(row["operational_gco2e"] / 2400)


def test_no_embodied_figure_without_setup_data():
    row = carbon.carbon_rows([ENERGY], ["FRA"], carbon.IntensityTable(), 1.0, {"s": {}})[0]
    assert row["embodied_gco2e"] is None
    assert row["total_gco2e"] == pytest.approx(1.8 * 33.44)


def test_hourly_profile_weights_the_window_by_hour(tmp_path):
    profile_file = tmp_path / "hourly.csv"
    profile_file.write_text("country,hour,g_co2e_per_kwh\n" +
                            "".join(f"DEU,{h},{100 if h == 9 else 200}\n" for h in range(24)))
    hours = carbon.read_hourly_profile(profile_file)["DEU"]
    start = dt.datetime(2024, 1, 15, 9, 30)
    # half an hour at 100 then half an hour at 200
    assert carbon.window_intensity(hours, start, 3600) == pytest.approx(150.0)
    row = carbon.carbon_rows([{**ENERGY, "duration_s": "3600"}], ["DEU", "FRA"],
                             carbon.IntensityTable(), 1.0, {}, hourly={"DEU": hours},
                             start_time=start)
    assert row[0]["intensity_g_per_kwh"] == pytest.approx(150.0)
    assert row[0]["intensity_annual_g_per_kwh"] == 333.77
    assert row[1]["intensity_g_per_kwh"] == 33.44  # no profile for France: the annual value


def test_hour_of_year_profile():
    hours = {h: float(h) for h in range(8784)}
    start = dt.datetime(2024, 1, 2, 0, 0)  # hour 24 of the year
    assert carbon.window_intensity(hours, start, 7200) == pytest.approx(24.5)


def test_hourly_profile_follows_each_runs_measured_start(tmp_path):
    """Two runs of one hour, measured from 08:00 and 09:00 UTC; the grid's clock is UTC+1:
    the first covers local hour 9 (100 g), the second hour 10 (200 g): mean 150 g/kWh."""
    hours = {h: 100.0 if h == 9 else 200.0 for h in range(24)}
    energy = {**ENERGY, "duration_s": "3600",
              "run_starts_utc": "2024-01-15T08:00:00.000+00:00;2024-01-15T09:00:00.000+00:00"}
    row = carbon.carbon_rows([energy], ["DEU"], carbon.IntensityTable(), 1.0, {},
                             hourly={"DEU": hours}, utc_offset_h=1.0)[0]
    assert row["intensity_g_per_kwh"] == pytest.approx(150.0)
    assert "2 measured run start(s)" in row["intensity_source"]


def test_energy_interval_carries_into_operational_carbon():
    energy = {**ENERGY, "hardware_energy_kwh_ci95_half_width": "0.09"}
    row = carbon.carbon_rows([energy], ["DEU"], carbon.IntensityTable(), 1.2, {})[0]
    assert row["operational_gco2e_ci95_half_width"] == pytest.approx(0.09 * 1.2 * 333.77)
    assert carbon.carbon_rows([ENERGY], ["DEU"], carbon.IntensityTable(), 1.2, {})[0][
        "operational_gco2e_ci95_half_width"] is None
