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


def test_stale_staging_of_a_killed_writer_is_removed_by_the_next_one(tmp_path):
    """kill -9 runs no cleanup: the next attempt at the same target removes its leftovers."""
    target = tmp_path / "checkpoints" / "m" / "v"
    target.parent.mkdir(parents=True)
    stale_dir = target.parent / ".v.k1ll3d_x.part"
    stale_dir.mkdir(mode=0o700)
    (stale_dir / "model.safetensors").write_bytes(b"partial")
    stale_file = target.parent / ".v.abcd1234.part"
    stale_file.write_text("half")
    other = target.parent / ".v.1.abcd1234.part"  # another target's staging (v.1): kept
    other.mkdir()
    with atomic.staged_directory(target) as staging:
        (staging / "model.safetensors").write_bytes(b"whole")
    assert sorted(p.name for p in target.parent.iterdir()) == [".v.1.abcd1234.part", "v"]


def test_stale_staging_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "summary.json"
    (tmp_path / ".summary.json.zz_9_abc.part").write_text('{"half": ')
    atomic.write_json(target, {"energy_kwh": 1.0})
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_files_inside_a_published_folder_get_the_umask_modes(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "model"
        with atomic.staged_directory(target) as staging:
            secret = staging / "weights.safetensors"
            secret.write_bytes(b"w")
            os.chmod(secret, 0o600)
            (staging / "sub").mkdir(mode=0o700)
            (staging / "sub" / "run.sh").write_text("#!/bin/sh\n")
            os.chmod(staging / "sub" / "run.sh", 0o700)
    finally:
        os.umask(old)
    assert (target / "weights.safetensors").stat().st_mode & 0o777 == 0o644
    assert (target / "sub").stat().st_mode & 0o777 == 0o755
    assert (target / "sub" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert target.stat().st_mode & 0o777 == 0o755


def test_links_inside_a_published_folder_keep_their_target_modes(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"w")
    os.chmod(source, 0o600)
    with atomic.staged_directory(tmp_path / "model") as staging:
        (staging / "link.bin").symlink_to(source)
    assert source.stat().st_mode & 0o777 == 0o600
