"""The atomic writers when the disk is full or the results folder is read-only: the error
reaches the job, and nothing that looks finished (nor any staging entry) remains."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from llm_footprint import atomic


def _no_full_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


WRITERS = {
    "json": lambda t: atomic.write_json(t, {"hardware_energy_kwh": 0.25}),
    "csv": lambda t: atomic.write_csv(t, [{"model": "m", "hardware_energy_kwh": 0.25}]),
    "text": lambda t: atomic.write_text(t, "token_perplexity 27.4\n"),
    "jsonl": lambda t: atomic.write_jsonl(t, [{"request": 1}, {"request": 2}]),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_disk_full_at_flush_leaves_no_file(tmp_path, monkeypatch, writer):
    target = tmp_path / "results" / "energy" / f"summary.{writer}"
    monkeypatch.setattr(atomic.os, "fsync", _no_full_space)
    with pytest.raises(OSError) as caught:
        WRITERS[writer](target)
    assert caught.value.errno == errno.ENOSPC
    assert _leftovers(tmp_path / "results") == ["energy"]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_disk_full_keeps_the_previous_finished_version(tmp_path, monkeypatch, writer):
    target = tmp_path / f"table.{writer}"
    target.write_text("finished earlier\n")
    monkeypatch.setattr(atomic.os, "fsync", _no_full_space)
    with pytest.raises(OSError):
        WRITERS[writer](target)
    assert target.read_text() == "finished earlier\n"
    assert _leftovers(tmp_path) == [target.name]


def test_disk_full_while_writing_a_checkpoint_folder(tmp_path):
    """A save that runs out of space half-way (as safetensors does mid-shard) publishes nothing."""
    target = tmp_path / "results" / "checkpoints" / "m" / "gptq-4bit"
    with pytest.raises(OSError) as caught:
        with atomic.staged_directory(target) as staging:
            (staging / "config.json").write_text("{}")
            with open(staging / "model.safetensors", "wb") as handle:
                handle.write(b"\0" * 1024)
                _no_full_space()
    assert caught.value.errno == errno.ENOSPC
    assert not target.exists()
    assert _leftovers(tmp_path / "results") == ["checkpoints", "m"]


def test_disk_full_at_the_provenance_record_of_a_folder(tmp_path, monkeypatch):
    """The last file of a folder fails: the whole folder is withdrawn, not published without it."""
    target = tmp_path / "models" / "m"
    with pytest.raises(OSError):
        with atomic.staged_directory(target) as staging:
            (staging / "model.safetensors").write_bytes(b"weights")
            monkeypatch.setattr(atomic.os, "fsync", _no_full_space)
            atomic.write_json(staging / "provenance.json", {"model": "m"})
    assert _leftovers(tmp_path) == ["models"]


def _read_only_file_system(*_args, **_kwargs):
    raise OSError(errno.EROFS, os.strerror(errno.EROFS))


def test_read_only_results_folder_fails_at_once_and_touches_nothing(tmp_path, monkeypatch):
    """Simulated (EROFS from the staging step) so that it also holds when the tests run as
    root, for whom permission bits do not apply."""
    results = tmp_path / "results"
    results.mkdir()
    finished = results / "quality.json"
    finished.write_text(json.dumps({"token_perplexity": 27.36}))
    monkeypatch.setattr(atomic.tempfile, "mkstemp", _read_only_file_system)
    monkeypatch.setattr(atomic.tempfile, "mkdtemp", _read_only_file_system)
    with pytest.raises(OSError) as caught:
        atomic.write_json(finished, {"token_perplexity": 1.0})
    assert caught.value.errno == errno.EROFS
    with pytest.raises(OSError):
        with atomic.staged_directory(results / "checkpoints" / "m" / "v"):
            pytest.fail("the block must not run without a staging folder")
    assert json.loads(finished.read_text()) == {"token_perplexity": 27.36}
    assert not (results / "checkpoints" / "m" / "v").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_results_folder_by_permissions(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            atomic.write_json(results / "summary.json", {"x": 1})
        with pytest.raises(PermissionError):
            with atomic.staged_directory(results / "checkpoint"):
                pass
        assert list(results.iterdir()) == []
    finally:
        results.chmod(0o755)
