"""Rule carbon: operational and embodied emissions of every (model, variant, setup, country).

Operational gCO2e = hardware kWh x PUE x grid intensity (g/kWh). Intensities come from the
shipped table (the thesis's 2024 life-cycle values), a user CSV that overrides it, or, for any
other country, CodeCarbon's packaged energy mix (recorded as the source). An optional hourly
profile weights each request's share of a run's energy by the intensity of its hour. Embodied
carbon is amortised over the run's duration and reported separately.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from . import atomic
from .schema import ConfigError

SECONDS_PER_YEAR = 365.25 * 86400
SHIPPED_INTENSITY = Path(__file__).resolve().parents[2] / "data" / "grid_intensity.csv"
INTENSITY_COLUMNS = ("country", "year", "g_co2e_per_kwh", "basis", "source")


class UnknownCountry(KeyError):
    def __init__(self, country: str):
        hint = " (use ISO 3166-1 alpha-3 codes, e.g. BEL, not BE)" if len(country) == 2 else ""
        super().__init__(f"no grid carbon intensity for {country!r}: not in the intensity data "
                         f"nor in CodeCarbon's energy mix{hint}")
        self.country = country


@dataclass(frozen=True)
class Intensity:
    country: str
    g_co2e_per_kwh: float
    year: int | None
    basis: str
    source: str


def read_intensity_csv(path: str | Path) -> list[Intensity]:
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in INTENSITY_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing columns {missing} (expected {list(INTENSITY_COLUMNS)})")
        for line_number, row in enumerate(reader, start=2):
            try:
                value = float(row["g_co2e_per_kwh"])
            except ValueError:
                raise ValueError(f"{path}:{line_number}: g_co2e_per_kwh {row['g_co2e_per_kwh']!r} "
                                 "is not a number") from None
            if value < 0:
                raise ValueError(f"{path}:{line_number}: g_co2e_per_kwh must not be negative")
            rows.append(Intensity(row["country"].strip().upper(), value,
                                  int(row["year"]) if row["year"].strip() else None,
                                  row["basis"], row["source"]))
    return rows


def codecarbon_energy_mix() -> dict[str, dict[str, Any]]:
    import codecarbon

    path = Path(codecarbon.__file__).parent / "data" / "private_infra" / "global_energy_mix.json"
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class IntensityTable:
    """Grid intensities: user rows over shipped rows, then CodeCarbon's energy mix."""

    def __init__(self, user_csv: str | Path | None = None,
                 shipped_csv: str | Path = SHIPPED_INTENSITY):
        self.rows: dict[str, list[Intensity]] = {}
        for row in read_intensity_csv(shipped_csv):
            self.rows.setdefault(row.country, []).append(row)
        if user_csv:
            overrides: dict[str, list[Intensity]] = {}
            for row in read_intensity_csv(user_csv):
                overrides.setdefault(row.country, []).append(row)
            self.rows.update(overrides)  # a country the user names is theirs entirely
        self._mix: dict[str, dict[str, Any]] | None = None

    def lookup(self, country: str, year: int | None = None) -> Intensity:
        rows = self.rows.get(country)
        if rows:
            if year is not None:
                exact = [r for r in rows if r.year == year]
                if not exact:
                    years = sorted(r.year for r in rows if r.year is not None)
                    raise KeyError(f"no {year} intensity for {country} (years: {years})")
                return exact[0]
            return max(rows, key=lambda r: r.year or 0)
        if self._mix is None:
            self._mix = codecarbon_energy_mix()
        mix = self._mix.get(country)
        if mix is None:
            raise UnknownCountry(country)
        return Intensity(country, float(mix["carbon_intensity"]), mix.get("year"),
                         "generation mix",
                         f"CodeCarbon {metadata.version('codecarbon')} global_energy_mix.json")


def check_tracker_country(config: dict[str, Any]) -> None:
    """Refuse, at parse time, a tracker country CodeCarbon cannot account for.

    The tracker looks the code up in CodeCarbon's energy mix (the table this stage falls back
    on) only when it stops, after the whole measurement window; an unknown code would waste it.
    """
    energy = config.get("energy") or {}
    if not energy.get("enabled"):
        return
    country = energy["tracker"]["country_iso_code"]
    mix = codecarbon_energy_mix()
    if country in mix:
        return
    close = difflib.get_close_matches(country, sorted(mix), n=3)
    hint = f" (close: {', '.join(close)})" if close else ""
    raise ConfigError("energy.tracker.country_iso_code",
                      f"{country!r} is not in CodeCarbon's energy mix, which its tracker needs "
                      f"and the carbon stage falls back on ({len(mix)} ISO 3166-1 alpha-3 codes, "
                      f"e.g. BEL, DEU, FRA, USA){hint}")


# ---- hourly profiles --------------------------------------------------------------------


def read_hourly_profile(path: str | Path) -> dict[str, dict[int, float]]:
    """country -> hour -> g/kWh; hours 0-23 (hour of day) or 0-8783 (hour of year)."""
    profile: dict[str, dict[int, float]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for column in ("country", "hour", "g_co2e_per_kwh"):
            if column not in (reader.fieldnames or []):
                raise ValueError(f"{path}: missing column {column!r}")
        for row in reader:
            profile.setdefault(row["country"].strip().upper(), {})[int(row["hour"])] = float(
                row["g_co2e_per_kwh"])
    return profile


def hour_key(hours: dict[int, float], moment: dt.datetime) -> int:
    if max(hours) <= 23:
        return moment.hour
    start_of_year = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return int((moment - start_of_year).total_seconds() // 3600)


def window_intensity(hours: dict[int, float], start: dt.datetime, duration_s: float) -> float:
    """Time-weighted intensity over the window [start, start + duration_s].

    CodeCarbon reports one energy total per run, so the run's energy is spread over the window
    in proportion to time: each request's slot of the schedule (requests arrive throughout the
    window) is weighted by the intensity of the hours it covers, splitting at hour boundaries.
    """
    weighted, cursor = 0.0, 0.0
    while cursor < duration_s:
        moment = start + dt.timedelta(seconds=cursor)
        next_hour = moment.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        step = min(duration_s - cursor, (next_hour - moment).total_seconds())
        key = hour_key(hours, moment)
        if key not in hours:
            raise KeyError(f"hourly profile has no value for hour {key}")
        weighted += hours[key] * step
        cursor += step
    return weighted / duration_s


# ---- footprint ---------------------------------------------------------------------------


def embodied_gco2e(embodied: dict[str, Any] | None, duration_s: float | None) -> float | None:
    """Embodied carbon written off over the run: (GPU + host) kgCO2e x share of useful life."""
    if not embodied or duration_s is None:
        return None
    lifetime_s = embodied["lifetime_years"] * SECONDS_PER_YEAR * embodied.get("utilisation", 1.0)
    return (embodied["gpu_kgco2e"] + embodied["host_kgco2e"]) * 1000 * duration_s / lifetime_s


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    return float(value)


def run_starts(energy: dict[str, Any], start_time: dt.datetime | None,
               utc_offset_h: float) -> list[dt.datetime]:
    """When the tuple's runs started on the grid's local clock: the configured start time, or
    else each run's measured start (UTC in the energy table) shifted by ``utc_offset_h``."""
    if start_time is not None:
        return [start_time]
    measured = [s for s in (energy.get("run_starts_utc") or "").split(";") if s]
    shift = dt.timedelta(hours=utc_offset_h)
    return [(dt.datetime.fromisoformat(s) + shift).replace(tzinfo=None) for s in measured]


def carbon_rows(energy_rows: Iterable[dict[str, Any]], countries: Sequence[str],
                table: IntensityTable, pue: float, setups: dict[str, dict[str, Any]],
                year: int | None = None, hourly: dict[str, dict[int, float]] | None = None,
                start_time: dt.datetime | None = None,
                utc_offset_h: float = 0.0) -> list[dict[str, Any]]:
    rows = []
    for energy in energy_rows:
        cpu = _number(energy["cpu_energy_kwh"]) or 0.0
        gpu = _number(energy["gpu_energy_kwh"]) or 0.0
        ram = _number(energy["ram_energy_corrected_kwh"]) or 0.0
        hardware = cpu + gpu + ram
        duration_s = _number(energy.get("duration_s"))
        requests = _number(energy.get("requests_per_run"))
        embodied = embodied_gco2e((setups.get(energy["setup"]) or {}).get("embodied"), duration_s)
        # the 95 % interval of the hardware energy over the repeats carries over unchanged in
        # relative terms: PUE and intensity are exact factors
        hardware_ci = _number(energy.get("hardware_energy_kwh_ci95_half_width"))
        starts = run_starts(energy, start_time, utc_offset_h) if hourly else []
        for country in countries:
            annual = table.lookup(country, year)
            intensity, source = annual.g_co2e_per_kwh, annual.source
            if hourly and country in hourly and starts and duration_s:
                # each run weighted by the hours it covered, runs averaged (equal weight)
                intensity = sum(window_intensity(hourly[country], start, duration_s)
                                for start in starts) / len(starts)
                source = (f"hourly profile, window from {start_time.isoformat()}" if start_time
                          else f"hourly profile, {len(starts)} measured run start(s), "
                               f"UTC{utc_offset_h:+g} h")
            operational = hardware * pue * intensity
            rows.append({
                "model": energy["model"], "variant": energy["variant"], "setup": energy["setup"],
                "country": country, "cpu_energy_kwh": cpu, "gpu_energy_kwh": gpu,
                "ram_energy_kwh": ram, "hardware_energy_kwh": hardware, "pue": pue,
                "facility_energy_kwh": hardware * pue,
                "intensity_g_per_kwh": intensity, "intensity_source": source,
                "intensity_annual_g_per_kwh": annual.g_co2e_per_kwh,
                "intensity_year": annual.year, "intensity_basis": annual.basis,
                "intensity_annual_source": annual.source,
                "operational_gco2e": operational,
                "operational_gco2e_ci95_half_width": (hardware_ci * pue * intensity
                                                      if hardware_ci is not None else None),
                "embodied_gco2e": embodied,
                "total_gco2e": operational + (embodied or 0.0),
                "operational_gco2e_per_request": operational / requests if requests else None,
                "duration_s": duration_s,
            })
    return rows


def read_energy_table(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def carbon_table(energy_csv: str | Path, carbon: dict[str, Any], setups: dict[str, dict[str, Any]],
                 out_csv: str | Path) -> list[dict]:
    """results/tables/carbon.csv."""
    table = IntensityTable(carbon.get("intensity_file"))
    hourly = start = None
    offset_h = 0.0
    profile = carbon.get("hourly_profile")
    if profile:
        hourly = read_hourly_profile(profile["file"])
        start = dt.datetime.fromisoformat(profile["start_time"]) if profile.get("start_time") \
            else None
        offset_h = profile.get("utc_offset_h", 0.0)
    rows = carbon_rows(read_energy_table(energy_csv), carbon["countries"], table, carbon["pue"],
                       setups, carbon.get("year"), hourly, start, offset_h)
    atomic.write_csv(out_csv, rows)
    return rows


def check_config(config: dict[str, Any]) -> None:
    """The tracker's country, the intensity table, countries and the hourly profile."""
    check_tracker_country(config)
    carbon = config["carbon"]
    if carbon["intensity_file"] and not Path(carbon["intensity_file"]).is_file():
        raise ConfigError("carbon.intensity_file", f"file {carbon['intensity_file']} does not exist")
    try:
        table = IntensityTable(carbon["intensity_file"])
    except ValueError as error:
        raise ConfigError("carbon.intensity_file", str(error)) from None
    for index, country in enumerate(carbon["countries"]):
        try:
            table.lookup(country, carbon["year"])
        except KeyError as error:
            key = "carbon.year" if carbon["year"] and country in table.rows else f"carbon.countries[{index}]"
            raise ConfigError(key, str(error.args[0])) from None
    profile = carbon["hourly_profile"]
    if profile:
        if not Path(profile["file"]).is_file():
            raise ConfigError("carbon.hourly_profile.file", f"file {profile['file']} does not exist")
        try:
            read_hourly_profile(profile["file"])
        except (ValueError, KeyError) as error:
            raise ConfigError("carbon.hourly_profile.file", str(error)) from None
        try:
            if profile.get("start_time") is not None:
                dt.datetime.fromisoformat(profile["start_time"])
        except ValueError:
            raise ConfigError("carbon.hourly_profile.start_time",
                              f"{profile['start_time']!r} is not an ISO date and time, e.g. "
                              "2024-01-15T09:00") from None
