"""course-data (python -m course_lib.datasets): one-line errors, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from course_lib import datasets
from course_lib.datasets import (
    read_kaggle,
)
from course_lib.datasets.__main__ import main
from course_lib.synthetic_spec import SyntheticSpec


def test_audit_cli_json_and_text(dup_tree, capsys):
    assert main(["audit", str(dup_tree), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_images"] == 19
    assert len(printed["exact_duplicates"]) == 1
    assert main(["audit", str(dup_tree)]) == 0
    assert "near duplicate pairs: 1" in capsys.readouterr().out


def test_cli_prepare(tmp_path, capsys):
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
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert main(["prepare", "default", "--profile", "smoke", "--per-class", "4"]) == 0
    out = Path(capsys.readouterr().out.strip())
    expected = datasets.synthetic_dir(SyntheticSpec.from_profile("smoke", per_class=4), tmp_path)
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


def test_cli_prepare_refuses_a_split_with_no_training_patients_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "set"
    args = ["prepare", "synthetic", "--out", str(out), "--image-size", "32"]
    assert main([*args, "--per-class", "2", "--test-per-class", "50"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: per_class=2") and "slices_per_patient=4" in err
    assert err.count("\n") == 1  # one line, no traceback
    assert list(tmp_path.iterdir()) == []


def test_cli_prepare_into_a_folder_it_cannot_write(tmp_path, capsys, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the data folder should be")
    monkeypatch.setenv("COURSE_DATA_DIR", str(blocked / "data"))
    assert main(["prepare", "default", "--profile", "smoke"]) == 1
    err = capsys.readouterr().err
    assert "Cannot write the dataset into" in err and "COURSE_DATA_DIR" in err
    assert err.count("\n") == 1
    assert blocked.read_text() == "a file where the data folder should be"
