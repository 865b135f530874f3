"""Sim-to-real: train on synthetic slices only, test on real MRI the model never saw.

Run: ``.venv/bin/python benchmarks/sim2real.py`` (about 15 minutes on 2 CPU cores; needs
``../shared/data/kaggle-training``, or ``--real PATH`` to any class-per-folder set).

For each config (default ``configs/cpu.yaml``, the physics contrasts the lessons use, and
``configs/sim2real.yaml``, the same recipe on the domain-randomised set) it trains with the
course's command line (``course-train fit --config ...``) under ``runs/sim2real-bench/``, then
runs the best checkpoint over every real slice and prints accuracy, balanced accuracy, the
recall of each class and the confusion matrix. ``--checkpoint`` skips training and scores one
checkpoint. Other arguments go to ``course-train`` (``--data.synthetic.randomize=0.5``).
Chance is 0.25 (four classes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sklearn.metrics import balanced_accuracy_score, confusion_matrix

from course_lib import datasets, transforms
from course_lib.cli import cli_main
from course_lib.config import CLASS_NAMES
from course_lib.data import BrainMRIDataset
from course_lib.evaluation import collect_predictions
from course_lib.training import load_classifier, quiet_lightning, read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "kaggle-training"


def score(checkpoint: str | Path, real: Path, *, per_class: int | None = None) -> dict:
    """Accuracy of one checkpoint on the real slices under ``real`` (class folders)."""
    from torch.utils.data import DataLoader

    model = load_classifier(checkpoint)
    data_hparams = read_checkpoint(checkpoint).get("datamodule_hyper_parameters", {})
    size = int(data_hparams.get("image_size", 128))
    channels = int(data_hparams.get("channels", 1))
    index = datasets.read_dataset("folder", real)
    if per_class:
        index = index.groupby("label", group_keys=False).apply(
            lambda g: g.sample(min(per_class, len(g)), random_state=0)
        )
    data = BrainMRIDataset(
        index, image_size=size, channels=channels, transform=transforms.eval_transform(size)
    )
    preds = collect_predictions(model, DataLoader(data, batch_size=64), device="cpu")
    y, p = preds.y_true, preds.y_pred
    recall = {
        c: float((p[y == i] == i).mean()) for i, c in enumerate(CLASS_NAMES) if (y == i).any()
    }
    return {
        "images": len(y),
        "accuracy": float((y == p).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(y, p)),
        "recall": recall,
        "confusion": confusion_matrix(y, p, labels=range(len(CLASS_NAMES))),
    }


def train(config: Path, root: Path, extra: list[str]) -> Path:
    """``course-train fit --config config`` under ``root``; the best checkpoint's path."""
    args = ["fit", "--config", str(config), "--trainer.default_root_dir", str(root), *extra]
    with quiet_lightning():
        cli = cli_main(args)
    return Path(cli.trainer.checkpoint_callback.best_model_path)


def report(name: str, result: dict, seconds: float | None) -> None:
    took = f", trained in {seconds / 60:.1f} min" if seconds is not None else ""
    print(
        f"{name}: accuracy {result['accuracy']:.3f}, balanced accuracy "
        f"{result['balanced_accuracy']:.3f} on {result['images']} real slices{took}"
    )
    print("  recall " + ", ".join(f"{c} {r:.2f}" for c, r in result["recall"].items()))
    print("  confusion (rows true, columns predicted, in CLASS_NAMES order):")
    for row in result["confusion"]:
        print("   " + " ".join(f"{v:5d}" for v in row))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL, help="class-per-folder real slices")
    parser.add_argument(
        "--configs",
        nargs="+",
        default=[ROOT / "configs" / "cpu.yaml", ROOT / "configs" / "sim2real.yaml"],
        type=Path,
    )
    parser.add_argument("--checkpoint", type=Path, help="score this checkpoint, do not train")
    parser.add_argument("--per-class", type=int, help="score on this many real slices per class")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "sim2real-bench")
    # anything else goes to course-train, e.g. --trainer.max_epochs=2
    args, extra = parser.parse_known_args()
    if not args.real.is_dir():
        print(f"no real data at {args.real}: pass --real PATH (class folders)", file=sys.stderr)
        return 2
    if args.checkpoint:
        report(
            args.checkpoint.name, score(args.checkpoint, args.real, per_class=args.per_class), None
        )
        return 0
    for config in args.configs:
        start = time.perf_counter()
        best = train(config, args.out / config.stem, extra)
        seconds = time.perf_counter() - start
        report(config.name, score(best, args.real, per_class=args.per_class), seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
