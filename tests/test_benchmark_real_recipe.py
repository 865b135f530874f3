"""benchmarks/real_recipe.py: its plain reference and its command line, on tiny data."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from phantoms import blob, write

from course_lib.config import CLASS_NAMES
from course_lib.transforms import MEAN, STD

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "real_recipe.py"
_spec = importlib.util.spec_from_file_location("real_recipe", SCRIPT)
real_recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(real_recipe)


def test_plain_augment_flips_and_moves_each_image_and_pads_with_black():
    x = torch.full((64, 1, 32, 32), (0 - MEAN) / STD)  # black
    x[:, :, 8:24, 2:10] = (1 - MEAN) / STD  # a white bar on the left
    out = real_recipe.plain_augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert float(out.min()) >= float(x.min()) - 1e-4  # black padding, nothing darker
    left = out[:, 0, :, :16].mean(dim=(1, 2)) > out[:, 0, :, 16:].mean(dim=(1, 2))
    assert 16 < int(left.sum()) < 48  # about half the images flipped, each its own way
    assert len({round(float(v), 3) for v in out.mean(dim=(1, 2, 3))}) > 32


def test_a_missing_folder_or_recipe_is_one_line(tmp_path, capsys):
    assert real_recipe.main(["--data", str(tmp_path / "none")]) == 2
    assert "error: no folder" in capsys.readouterr().err
    assert real_recipe.main(["--data", str(tmp_path), "--recipes", "plain,magic"]) == 2
    assert "error: unknown recipe 'magic'" in capsys.readouterr().err


@pytest.mark.slow
def test_both_recipes_train_for_the_budget_and_print_the_table(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    root = tmp_path / "real"
    for c, name in enumerate(CLASS_NAMES):
        for i in range(10):
            write(root / name / f"{i}.png", (blob(100 * c + i, 32) // 2 + 60 * c).astype(np.uint8))
    args = ["--data", str(root), "--cache-dir", str(tmp_path / "cache"), "--minutes", "0.02"]
    assert real_recipe.main([*args, "--loader"]) == 0
    out = capsys.readouterr().out
    assert "images/s from the decoded slices" in out
    rows = [line for line in out.splitlines() if line.startswith("| 0.02 min |")]
    assert [row.split("|")[2].strip() for row in rows] == ["plain", "course"]
    held_out = int(re.search(r"held out (\d+) images", out).group(1))
    assert 0 < held_out < 40
    for row in rows:  # a share of the held-out images, printed to 3 decimals
        correct = float(row.split("|")[3]) * held_out
        assert abs(correct - round(correct)) < held_out * 5e-4
