"""Atomic writers: a failure mid-write leaves neither a target nor a stray temporary file."""

import json
import os

import pytest

from llm_footprint import atomic


def test_write_json_replaces_target_whole(tmp_path):
    target = tmp_path / "out" / "summary.json"
    atomic.write_json(target, {"energy_kwh": 1.5})
    atomic.write_json(target, {"energy_kwh": 2.5})
    assert json.loads(target.read_text()) == {"energy_kwh": 2.5}
    assert [p.name for p in target.parent.iterdir()] == ["summary.json"]


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "summary.json"
    with pytest.raises(RuntimeError):
        with atomic.staged_file(target) as handle:
            handle.write('{"half": ')
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_version(tmp_path):
    target = tmp_path / "table.csv"
    atomic.write_csv(target, [{"model": "a", "energy_kwh": 1.0}])
    with pytest.raises(RuntimeError):
        with atomic.staged_file(target) as handle:
            handle.write("model,energy_kwh\nb,")
            raise RuntimeError("killed")
    assert target.read_text() == "model,energy_kwh\na,1.0\n"


def test_staged_directory_appears_only_on_success(tmp_path):
    target = tmp_path / "checkpoints" / "m" / "v"
    with pytest.raises(RuntimeError):
        with atomic.staged_directory(target) as staging:
            (staging / "model.safetensors").write_bytes(b"partial")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    with atomic.staged_directory(target) as staging:
        (staging / "model.safetensors").write_bytes(b"whole")
    assert (target / "model.safetensors").read_bytes() == b"whole"


def test_staged_directory_refuses_to_merge_into_a_full_folder(tmp_path):
    target = tmp_path / "v"
    target.mkdir()
    (target / "old").write_text("x")
    with pytest.raises(OSError):
        with atomic.staged_directory(target) as staging:
            (staging / "new").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["old"]


def test_csv_cells_keep_full_float_precision(tmp_path):
    target = tmp_path / "t.csv"
    atomic.write_csv(target, [{"x_kwh": 0.1 + 0.2, "missing": None}])
    assert target.read_text().splitlines()[1] == "0.30000000000000004,"


def test_outputs_get_the_modes_of_the_users_umask(tmp_path):
    """Temporary files are created private (0600); a published result must be readable by the
    group on a shared cluster file system, as any file the user creates."""
    previous = os.umask(0o022)
    try:
        atomic.write_json(tmp_path / "summary.json", {"energy_kwh": 1.0})
        with atomic.staged_directory(tmp_path / "checkpoint") as staging:
            (staging / "config.json").write_text("{}")
    finally:
        os.umask(previous)
    assert (tmp_path / "summary.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "checkpoint").stat().st_mode & 0o777 == 0o755
