"""Lesson 06's comparison of imbalance remedies, headless: one table of test metrics.

Run: ``.venv/bin/python benchmarks/imbalance.py`` (cpu profile; about 10-20 minutes on 2 CPU
cores), or ``--profile smoke`` for a quick run-through that checks only that it works.

Each method trains the same ``simple_cnn`` with the same seed and the profile's epochs on the same
screening-like training set (``imbalance.screening_counts``: many ``notumor``, few ``glioma``) and
is scored on the balanced, patient-level test split:

- plain cross-entropy, then its decision moved after training (prior correction; a threshold for
  the rarest class chosen on validation);
- class-weighted cross-entropy; oversampling with a ``WeightedRandomSampler``; focal loss.

It prints the per-class recall, balanced accuracy and macro-F1 of each, and the spread of the
rarest class's recall between methods.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import pandas as pd

from course_lib.config import get_profile
from course_lib.lessons.imbalance import compare_methods, screening_counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", help="smoke, cpu or gpu (default cpu)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--difficulty", type=float, default=None, help="synthetic difficulty")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    counts = screening_counts(2 * profile.samples_per_class, minimum=3 * profile.slices_per_patient)
    options = {} if args.difficulty is None else {"difficulty": args.difficulty}
    print(f"profile {profile.name}: {profile.max_epochs} epochs, {profile.image_size}px")
    print(f"training set (before the validation split): {counts}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imbalance-") as root:
        os.environ["COURSE_DATA_DIR"] = root  # a fresh data set from the current generator
        table, results = compare_methods(
            per_class=counts, root_dir=root, profile=profile, seed=args.seed, data_options=options
        )
    minutes = (time.perf_counter() - start) / 60
    first = next(iter(results.values()))
    print(f"training slices per class after the split: {first.train_counts}")
    print(f"test slices: {len(first.test)} (balanced), {minutes:.1f} min in all\n")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string())
    rare = min(first.train_counts, key=first.train_counts.get)
    recall = table[f"recall {rare}"]
    print(
        f"\nrecall of the rarest class ({rare}): from {recall.min():.3f} ({recall.idxmin()}) "
        f"to {recall.max():.3f} ({recall.idxmax()})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
