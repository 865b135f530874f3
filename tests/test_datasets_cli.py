"""course-data (python -m course_lib.datasets): one-line errors, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_lib import datasets
from course_lib.datasets import (
    read_kaggle,
)
from course_lib.datasets.__main__ import main


def test_audit_cli_json_and_text(dup_tree, capsys):
    assert main(["audit", str(dup_tree), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_images"] == 19
    assert len(printed["exact_duplicates"]) == 1
    assert main(["audit", str(dup_tree)]) == 0
    assert "near duplicate pairs: 1" in capsys.readouterr().out


def test_cli_prepare(tmp_path, capsys):
    pytest.importorskip("course_lib.synthetic")
    out = tmp_path / "cli"
    code = main(
        [
            "prepare",
            "synthetic",
            "--out",
            str(out),
            "--image-size",
            "32",
            "--per-class",
            "4",
            "--test-per-class",
            "4",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert len(read_kaggle(out)) == 32


def test_cli_prepare_default_uses_the_profile(tmp_path, monkeypatch, capsys):
    pytest.importorskip("course_lib.synthetic")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert main(["prepare", "default", "--profile", "smoke", "--per-class", "4"]) == 0
    out = Path(capsys.readouterr().out.strip())
    expected = datasets.synthetic_dir(datasets.synthetic_params("smoke", per_class=4), tmp_path)
    assert out == expected
    assert (out / "dataset.json").is_file()
    assert out.stat().st_mode & 0o777 == 0o755


def test_cli_reports_errors(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("x")
    code = main(["prepare", "synthetic", "--out", str(tmp_path / "x"), "--image-size", "32"])
    assert code == 1
    assert "left untouched" in capsys.readouterr().err


def test_download_cli_offline(tmp_path, offline, capsys):
    assert main(["download", "br35h", "--dest", str(tmp_path)]) == 1
    assert "offline" in capsys.readouterr().err
