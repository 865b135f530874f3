"""The course's recipe on real MRI against a plain PyTorch script, for the same time budget.

Both train from scratch on the same images of a folder of real slices (``kaggle-training``, the
Kaggle set's Training split) and are scored on the same held-out part of it, which keeps every
group of near-duplicates on one side (``group_duplicates``: the set has no patient ids):

- **course**: ``configs/real_cpu.yaml`` through ``course-train`` (LightningCLI), the time budget
  as ``--trainer.max_time``;
- **plain**: the reference below, a script as one would write it without the course: ResNet-18
  from scratch on one channel at 128 px, AdamW (lr 2e-3, weight decay 0.05), one-cycle over the
  budget (its step count estimated from the first steps' speed), label smoothing 0.1, batches of
  64, flips and a small affine augmentation (batched, one ``grid_sample``), channels_last, fp32.

Both are given the slices already decoded (the course's own cache), train on the DataModule's
training part and are scored after their last step on its held-out part, with the same
evaluation code (fp32). The course recipe also holds out a validation part to pick its best
checkpoint from; the plain script does not use it.

    python benchmarks/real_recipe.py --minutes 3            # ~7 min on 2 cores
    python benchmarks/real_recipe.py --minutes 3 10 20      # the table of the issue, ~70 min
    python benchmarks/real_recipe.py --minutes 10 --recipes course --set trainer.precision=32-true

Prints, per recipe and budget: accuracy and balanced accuracy on the held-out part, training
images per second, epochs run and wall time.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_recall

from course_lib.cli import cli_main
from course_lib.data import BrainMRIDataModule
from course_lib.transforms import MEAN, STD

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "real_cpu.yaml"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "kaggle-training"
SEED = 42
#: What ``--recipes`` takes: course-fp32 is the course's recipe without bf16 autocast.
RECIPES = ("plain", "course", "course-fp32")


def held_out_data(root: Path, cache_dir: Path) -> BrainMRIDataModule:
    """The DataModule of configs/real_cpu.yaml on ``root``, set up: train, val, held-out test."""
    data = BrainMRIDataModule(
        source="folder",
        root=os.fspath(root),
        image_size=128,
        seed=SEED,
        cache=True,
        cache_dir=os.fspath(cache_dir),
        group_duplicates=True,
        augment_strength="light",
    )
    data.setup()
    return data


@torch.no_grad()
def evaluate(model: nn.Module, data: BrainMRIDataModule) -> tuple[float, float]:
    """Accuracy and balanced accuracy on the held-out part, fp32, in eval mode."""
    model.eval()
    logits, labels = [], []
    for x, y in DataLoader(data.test_dataset, batch_size=128):
        logits.append(model(x).float())
        labels.append(y)
    logits, labels = torch.cat(logits), torch.cat(labels)
    k = data.num_classes
    accuracy = multiclass_accuracy(logits, labels, k, average="micro")
    balanced = multiclass_recall(logits, labels, k, average="macro")
    return float(accuracy), float(balanced)


def run_course(data: BrainMRIDataModule, minutes: float, cache_dir: Path, sets: list[str]) -> dict:
    """configs/real_cpu.yaml through the CLI, for ``minutes``; then the held-out score."""
    budget = time.strftime("00:%H:%M:%S", time.gmtime(round(minutes * 60)))
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"real_recipe_{os.getpid()}_{minutes}"
    args = [
        "fit",
        "--config",
        os.fspath(CONFIG),
        "--data.root",
        os.fspath(data.root),
        "--data.cache_dir",
        os.fspath(cache_dir),
        "--trainer.max_time",
        budget,
        "--trainer.default_root_dir",
        os.fspath(run_dir),
        "--trainer.enable_progress_bar",
        "false",
    ]
    for item in sets:
        key, _, value = item.partition("=")
        args += [f"--{key}", value]
    start = time.perf_counter()
    cli = cli_main(args)
    wall = time.perf_counter() - start
    trainer = cli.trainer
    # the same seed, folder and grouping: the CLI's held-out part is the benchmark's
    assert cli.datamodule.test_index.index.equals(data.test_index.index)
    timer = next(c for c in trainer.callbacks if type(c).__name__ == "Timer")
    train_s = timer.time_elapsed("train")
    batches = trainer.num_training_batches
    steps = trainer.global_step
    seen = steps * cli.datamodule.batch_size
    accuracy, balanced = evaluate(cli.model, data)
    return {
        "accuracy": accuracy,
        "balanced_accuracy": balanced,
        "images_per_s": seen / train_s,
        "epochs": steps / batches,
        "train_s": train_s,
        "wall_s": wall,
        "precision": str(trainer.precision),
    }


# --------------------------------------------------------------------------- the reference


def plain_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per image: a left-right flip (p 0.5) and a small affine (rotation 10 degrees, shift 5%,
    scale 0.9-1.1), for the whole batch in one ``grid_sample``."""
    n = len(x)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(10)
    scale = 1 + (torch.rand(n, generator=generator) * 2 - 1) * 0.1
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * 0.1  # 5% of the side, in [-1, 1]
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, shift[:, 0]], 1),
            torch.stack([sin * flip, cos, shift[:, 1]], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    background = (0 - MEAN) / STD  # black, after normalisation
    return F.grid_sample(x - background, grid, align_corners=False) + background


def plain_resnet18(num_classes: int) -> nn.Module:
    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


def run_plain(data: BrainMRIDataModule, minutes: float) -> dict:
    """The plain script: train for ``minutes`` of wall-clock time, then score."""
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    train = data.train_dataset
    images = (torch.from_numpy(train.images).float()[:, None] / 255 - MEAN) / STD
    labels = torch.from_numpy(train.labels)
    batch, n = 64, len(labels)
    per_epoch = max(1, n // batch)  # a set smaller than a batch is one batch per epoch
    model = plain_resnet18(data.num_classes).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    budget = minutes * 60
    timed = (3, 13)  # steps 3-12 time the speed; the first are slower
    schedule, total = None, None
    start = time.perf_counter()
    steps = 0
    model.train()
    while total is None or steps < total:
        order = torch.randperm(n, generator=generator)
        for k in range(per_epoch):
            rows = order[k * batch : (k + 1) * batch]
            x = plain_augment(images[rows], generator).contiguous(memory_format=torch.channels_last)
            loss = criterion(model(x), labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            if schedule is not None:
                schedule.step()
            if steps == timed[0]:
                clock = time.perf_counter()
            elif steps == timed[1]:  # one-cycle over the steps the rest of the budget holds
                per_step = (time.perf_counter() - clock) / (timed[1] - timed[0])
                left = budget - (time.perf_counter() - start)
                total = steps + max(1, int(left / per_step))
                schedule = torch.optim.lr_scheduler.OneCycleLR(
                    optimizer, max_lr=2e-3, total_steps=total - steps + 1
                )
            if time.perf_counter() - start >= budget or (total is not None and steps >= total):
                total = steps
                break
    train_s = time.perf_counter() - start
    accuracy, balanced = evaluate(model, data)
    return {
        "accuracy": accuracy,
        "balanced_accuracy": balanced,
        "images_per_s": steps * batch / train_s,
        "epochs": steps / per_epoch,
        "train_s": train_s,
        "wall_s": time.perf_counter() - start,
        "precision": "32-true",
    }


def loader_speed(data: BrainMRIDataModule, batches: int = 20) -> dict:
    """Images per second of the training loader, with the decoded slices and without them."""
    from course_lib.data import BrainMRIDataset
    from course_lib.transforms import train_transform

    def rate(dataset) -> float:
        loader = DataLoader(dataset, batch_size=64, shuffle=True, num_workers=0)
        start, seen = time.perf_counter(), 0
        for k, (x, _) in enumerate(loader):
            seen += len(x)
            if k + 1 == batches:
                break
        return seen / (time.perf_counter() - start)

    transform = train_transform(128, seed=SEED, strength="light")
    index = data.train_index.reset_index(drop=True)
    cached = data.train_dataset
    decoding = BrainMRIDataset(index, image_size=128, transform=transform)
    return {"cached": rate(cached), "decoding": rate(decoding)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[3.0])
    parser.add_argument(
        "--recipes", default="plain,course", help=f"comma-separated, of {', '.join(RECIPES)}"
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/course-slices"))
    parser.add_argument(
        "--loader", action="store_true", help="also time the training loader against the step"
    )
    parser.add_argument(
        "--set", action="append", default=[], help="a CLI option for the course run, KEY=VALUE"
    )
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"error: no folder {args.data}; pass --data PATH (class folders)", file=sys.stderr)
        return 2
    unknown = [r for r in args.recipes.split(",") if r not in RECIPES]
    if unknown:
        print(f"error: unknown recipe {unknown[0]!r}; choose from {RECIPES}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    data = held_out_data(args.data, args.cache_dir)
    print(
        f"{args.data}: train {len(data.train_index)}, course validation {len(data.val_index)}, "
        f"held out {len(data.test_index)} images (near-duplicate groups kept on one side); "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        flush=True,
    )
    if args.loader:
        speed = loader_speed(data)
        print(
            f"training loader (main process, light augmentation): {speed['cached']:.0f} images/s "
            f"from the decoded slices, {speed['decoding']:.0f} images/s decoding each JPEG",
            flush=True,
        )
    rows = []
    for minutes in args.minutes:
        for recipe in args.recipes.split(","):
            if recipe == "plain":
                result = run_plain(data, minutes)
            else:
                extra = ["trainer.precision=32-true"] if recipe == "course-fp32" else []
                result = run_course(data, minutes, args.cache_dir, [*args.set, *extra])
            rows.append((minutes, recipe, result))
            print(
                f"{minutes:5.1f} min  {recipe:11s} acc {result['accuracy']:.3f}  balanced "
                f"{result['balanced_accuracy']:.3f}  {result['images_per_s']:6.1f} img/s  "
                f"{result['epochs']:5.1f} epochs  train {result['train_s']:6.1f} s  wall "
                f"{result['wall_s']:6.1f} s  {result['precision']}",
                flush=True,
            )
    print("\n| budget | recipe | accuracy | balanced accuracy | images/s | epochs |")
    print("|---|---|---|---|---|---|")
    for minutes, recipe, r in rows:
        print(
            f"| {minutes:g} min | {recipe} | {r['accuracy']:.3f} | {r['balanced_accuracy']:.3f} "
            f"| {r['images_per_s']:.0f} | {r['epochs']:.1f} |"
        )
    if not math.isfinite(sum(r["accuracy"] for _, _, r in rows)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
