"""Best test accuracy the ``cpu`` profile reaches in a fixed training budget (default 10 minutes).

The synthetic set of the ``cpu`` profile (128x128, 300 training and 80 test slices per class) is
written to disk in the Kaggle class-per-folder layout (``course_lib.datasets.prepare_synthetic``)
and read back as a plain folder dataset (``BrainMRIDataModule(source="folder")``), the way a
student's own data would be. Then:

1. calibration (not counted): time a few training batches to estimate the epoch time, and set
   ``max_epochs`` so that the cosine schedule ends inside the budget;
2. training with ``make_trainer("cpu")`` (the profile's callbacks: best checkpoint on validation
   balanced accuracy, early stopping) and ``max_time`` = the budget as a hard stop;
3. test of the best checkpoint on the held-out Testing folder.

    python benchmarks/cpu_budget.py                      # ~12 minutes on 2 cores
    python benchmarks/cpu_budget.py --minutes 3 --backbone resnet18
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import torch

from course_lib.config import data_dir, get_profile, seed_everything
from course_lib.data import BrainMRIDataModule
from course_lib.datasets import prepare_synthetic, synthetic_dir
from course_lib.models import TumorClassifier
from course_lib.synthetic_spec import SyntheticSpec
from course_lib.training import make_trainer


def seconds_per_epoch(model, datamodule, batches: int = 8) -> float:
    """Estimate the time of one training + validation epoch from a few training batches."""
    loader = datamodule.train_dataloader()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    times = []
    iterator = iter(loader)
    for i in range(batches + 1):
        start = time.perf_counter()
        x, y = next(iterator)
        loss = model.criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i:  # the first batch is warm-up
            times.append(time.perf_counter() - start)
    per_batch = sum(times) / len(times)
    val_share = 0.4 * len(datamodule.val_dataloader())  # forward only, roughly 0.4 of a step
    return per_batch * (len(loader) + val_share)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget")
    parser.add_argument("--backbone", default="simple_cnn")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: temporary)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*exists and is not empty.*")
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)

    profile = get_profile("cpu")
    spec = SyntheticSpec.from_profile(profile, seed=args.seed)
    root = synthetic_dir(spec, data_dir() / "benchmarks")
    start = time.perf_counter()
    prepare_synthetic(root, spec)
    print(f"dataset: {root} ({time.perf_counter() - start:.0f} s to prepare)")

    seed_everything(args.seed)
    datamodule = BrainMRIDataModule.from_profile(
        profile, source="folder", root=str(root), seed=args.seed, cache=True
    )
    datamodule.setup("fit")
    print(
        f"train/val/test images: {len(datamodule.train_dataset)}/"
        f"{len(datamodule.val_dataset)}/{len(datamodule.test_dataset)}"
    )
    budget = 60.0 * args.minutes
    probe = TumorClassifier(backbone=args.backbone)
    epoch_s = seconds_per_epoch(probe, datamodule)
    epochs = max(1, int(0.9 * budget / epoch_s))
    print(f"calibration: ~{epoch_s:.1f} s per epoch -> max_epochs={epochs} in {args.minutes} min")

    run_dir = args.out or Path(tempfile.mkdtemp(prefix="cpu_budget_"))
    model = TumorClassifier(backbone=args.backbone, lr=args.lr, scheduler="cosine")
    trainer = make_trainer(
        profile,
        root_dir=run_dir,
        seed=args.seed,
        max_epochs=epochs,
        max_time={"seconds": budget},
        patience=max(5, epochs // 3),
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    train_s = time.perf_counter() - start
    best = trainer.checkpoint_callback
    results = trainer.test(ckpt_path="best", datamodule=datamodule, verbose=False)[0]
    print(
        f"backbone={args.backbone} lr={args.lr} epochs done={trainer.current_epoch} "
        f"train time={train_s / 60:.1f} min (budget {args.minutes} min), torch threads="
        f"{torch.get_num_threads()}"
    )
    print(f"best val balanced accuracy {float(best.best_model_score):.4f} ({best.best_model_path})")
    print(
        f"TEST accuracy {results['test/accuracy']:.4f}  "
        f"balanced accuracy {results['test/balanced_accuracy']:.4f}  "
        f"macro-F1 {results['test/f1_macro']:.4f}"
    )


if __name__ == "__main__":
    main()
