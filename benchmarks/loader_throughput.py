"""DataLoader throughput of the course's training pipeline, per configuration, in the cpu profile.

For every combination of ``num_workers`` (0, 2), ``pin_memory``, ``cache`` and ``augment``, a
fresh :class:`course_lib.data.BrainMRIDataModule` (the default synthetic set at the profile's
image size and batch size) runs one untimed warm-up epoch (starts the workers, fills the caches),
then ``--repeats`` timed epochs of its training loader; the median images/s is printed. For
comparison, the last line times training steps of ``SimpleCNN`` on one batch of the same size
(:func:`course_lib.lessons.throughput.measure_training_throughput`): the loader is the
bottleneck where its images/s fall below the model's.

Pinned memory only changes anything when batches go to a GPU; without one, its rows repeat the
unpinned ones (and PyTorch's warning about it is silenced here).

    .venv/bin/python benchmarks/loader_throughput.py                 # cpu profile, ~1-2 minutes
    .venv/bin/python benchmarks/loader_throughput.py --profile smoke --repeats 1
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
import warnings

import torch

from course_lib.config import CLASS_NAMES, default_device, get_profile
from course_lib.data import BrainMRIDataModule
from course_lib.lessons.throughput import measure_throughput, measure_training_throughput
from course_lib.models import SimpleCNN


def measure(
    profile, *, workers: int, pin: bool, cache: bool, augment: bool, repeats: int, seed: int
):
    """Median images/s of ``repeats`` epochs of one configuration's training loader."""
    dm = BrainMRIDataModule.from_profile(
        profile, num_workers=workers, pin_memory=pin, cache=cache, augment=augment, seed=seed
    )
    dm.prepare_data()
    dm.setup("fit")
    loader = dm.train_dataloader()  # persistent workers keep their caches across epochs
    for _batch in loader:  # warm-up epoch: starts the workers, fills the caches
        pass
    runs = [measure_throughput(loader, warmup=0) for _ in range(repeats)]
    return statistics.median(r.images_per_second for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", help="profile whose sizes to use (default cpu)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per configuration")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*pin_memory.*", category=UserWarning)
    profile = get_profile(args.profile)
    print(
        f"profile {profile.name}: {profile.image_size} px, batch {profile.batch_size}, "
        f"{profile.samples_per_class} training slices per class; {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__}, CUDA {'yes' if torch.cuda.is_available() else 'no'}"
    )
    print(f"{'workers':>7} {'pin':>5} {'cache':>5} {'augment':>7} {'images/s':>9}")
    start = time.perf_counter()
    grid = itertools.product((0, 2), (False, True), (False, True), (False, True))
    for workers, pin, cache, augment in grid:
        speed = measure(
            profile, workers=workers, pin=pin, cache=cache, augment=augment,
            repeats=args.repeats, seed=args.seed,
        )  # fmt: skip
        print(f"{workers:>7} {pin!s:>5} {cache!s:>5} {augment!s:>7} {speed:>9,.0f}")
    dm = BrainMRIDataModule.from_profile(profile, seed=args.seed, num_workers=0)
    dm.prepare_data()
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    model = SimpleCNN(in_channels=1, num_classes=len(CLASS_NAMES))
    result = measure_training_throughput(model, images, labels, steps=10, warmup=2)
    print(f"SimpleCNN training steps on {default_device()}, batch {len(labels)}: {result}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
