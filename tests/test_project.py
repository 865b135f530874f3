"""The project's promises: packaging, the two commands, CI, lint."""

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from course_lib.config import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
README = (REPO_ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    """The commands in README's 'Two commands' block."""
    block = README.split("## Two commands", 1)[1].split("```", 2)[1]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_gives_make_lab_and_make_test():
    assert readme_commands() == ["make lab", "make test"]


def test_ci_runs_exactly_the_readme_test_command():
    script = (REPO_ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines() if line.strip() and line[0] != "#"]
    assert readme_commands()[1] in commands
    workflow = (REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert f"run: {readme_commands()[1]}\n" in workflow
    assert "cache: pip" in workflow


def test_makefile_targets_create_and_reuse_the_venv():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "$(STAMP): pyproject.toml" in makefile
    assert "test -x $(PY) || $(PYTHON) -m venv $(VENV)" in makefile
    for target in ("lab", "test", "exercises"):
        assert re.search(rf"^{target}: \$\(STAMP\)", makefile, re.M), target
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    for flag in (
        "--nbval-lax",
        "--nbval-current-env",
        "-n 2",
        "--dist loadfile",
        "notebooks",
        "solutions",
    ):
        assert flag in test_recipe, flag
    assert "COURSE_PROFILE=smoke" in test_recipe


def test_dependencies_are_lower_bounded_ranges():
    project = PYPROJECT["project"]
    names = set()
    extras = project["optional-dependencies"]
    for spec in project["dependencies"] + extras["dev"] + extras["lab"]:
        requirement = Requirement(spec)
        names.add(requirement.name.lower())
        operators = {s.operator for s in requirement.specifier}
        assert operators == {">="}, f"{spec}: use a lower bound only, so Colab keeps its own torch"
    for needed in (
        "torch",
        "torchvision",
        "pytorch-lightning",
        "torchmetrics",
        "albumentations",
        "seaborn",
        "scikit-learn",
        "ipywidgets",
        "jupyterlab",
        "pytest",
        "nbval",
        "pytest-xdist",
        "ruff",
    ):
        assert needed in names, needed


def test_the_runtime_needs_no_jupyter_server_and_declares_what_it_imports():
    runtime = {Requirement(spec).name.lower() for spec in PYPROJECT["project"]["dependencies"]}
    assert "jupyterlab" not in runtime  # Colab has its own server; `make lab` adds the extra
    assert {"requests", "numpy"} <= runtime
    numpy = next(Requirement(s) for s in PYPROJECT["project"]["dependencies"] if "numpy" in s)
    assert "1.26" not in numpy.specifier and "2.0" in numpy.specifier  # np.bitwise_count


def test_console_scripts_and_python_m_run_the_same_entry_points():
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts == {
        "course-train": "course_lib.cli:main",
        "course-data": "course_lib.datasets.__main__:main",
        "course-lab": "course_lib.lab:main",
        "course-exercises": "course_lib.exercises:main",
    }
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function))
    for script in ("course-train", "course-data"):
        path = Path(sys.executable).parent / script
        if path.exists():  # installed by `pip install -e .`
            result = subprocess.run(
                [str(path), "--help"], capture_output=True, text=True, check=False
            )
            assert result.returncode == 0 and "usage" in result.stdout.lower(), result.stderr


def test_requires_python_admits_colab():
    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert all(version in spec for version in ("3.10", "3.11", "3.12", "3.13"))


def test_environment_yml_installs_this_package_and_nothing_else():
    text = (REPO_ROOT / "environment.yml").read_text()
    lines = [line.split("#", 1)[0].rstrip() for line in text.splitlines()]
    entries = [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
    assert entries == ["conda-forge", "python=3.11", "pip", "pip:", "-e .[lab,dev]"]
    assert "3.11" in SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert "dev" in PYPROJECT["project"]["optional-dependencies"]


def test_pytest_is_strict():
    options = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in options["addopts"]
    assert options["filterwarnings"][0] == "error"


def test_gitignore_keeps_generated_things_out():
    ignored = (REPO_ROOT / ".gitignore").read_text().split()
    for entry in (
        ".venv/",
        "datasets/*",
        "lightning_logs/",
        "*.ckpt",
        ".ipynb_checkpoints/",
        "build/",
        "runs/",
    ):
        assert entry in ignored


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (REPO_ROOT / ".venv").exists(), reason="ruff not installed"
)
@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command):
    targets = [str(REPO_ROOT / d) for d in ("course_lib", "tests", "benchmarks")]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *targets],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
