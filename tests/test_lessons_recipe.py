from __future__ import annotations

import numpy as np
import pytest
from phantoms import blob, write

from course_lib.config import CLASS_NAMES
from course_lib.lessons import recipe


def test_find_real_data_prefers_the_variable_then_the_download(tmp_path):
    mine, data = tmp_path / "mine", tmp_path / "data"
    env = {"COURSE_DATA_DIR": str(data), recipe.REAL_DATA_VARIABLE: str(mine)}
    assert recipe.find_real_data(env) in (None, recipe.find_real_data({}))  # neither exists yet
    (data / "kaggle").mkdir(parents=True)
    assert recipe.find_real_data(env) == data / "kaggle"
    mine.mkdir()
    assert recipe.find_real_data(env) == mine


def test_ablation_trains_each_step_for_the_budget_and_scores_it(tmp_path):
    root = tmp_path / "real"
    for c, name in enumerate(CLASS_NAMES):
        for i in range(12):
            write(root / name / f"{i}.png", (blob(100 * c + i, 32) // 2 + 60 * c).astype(np.uint8))
    steps = recipe.ABLATION[:2]
    table = recipe.ablation(
        root, root_dir=tmp_path / "runs", profile="smoke", seconds=1.0, steps=steps
    )
    assert list(table["step"]) == [name for name, *_ in steps]
    assert table["epochs"].gt(0).all() and table["images_per_s"].gt(0).all()
    # scored on the held-out part: four classes of 2-3 images each
    assert set(np.round(table["accuracy"] * 10).astype(int)) <= set(range(11))
    assert (tmp_path / "runs" / "step1" / "checkpoints").is_dir()


def test_ablation_steps_add_up_to_the_cpu_recipe():
    from pathlib import Path

    import yaml

    config = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "configs" / "real_cpu.yaml").read_text()
    )
    model, data, trainer = {}, {}, {}
    for _, m, d, t in recipe.ABLATION:
        model.update(m), data.update(d), trainer.update(t)
    for key, value in model.items():
        assert config["model"][key] == value, key
    assert config["data"]["augment_strength"] == data["augment_strength"]
    assert config["trainer"]["precision"] == trainer["precision"]


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu"])
def test_every_profile_has_an_ablation_budget(profile):
    assert recipe.ABLATION_SECONDS[profile] > 0
