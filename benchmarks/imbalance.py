"""Lesson 06's comparison of imbalance remedies, headless: the tables of the lesson.

Run: ``.venv/bin/python benchmarks/imbalance.py`` (cpu profile; about 5 minutes on 2 free CPU
cores, more on a shared machine), or ``--profile smoke`` for a quick run-through that checks only
that it works.

Each method trains the same ``simple_cnn`` with the lesson's sizes (``imbalance.lesson_profile``)
on the same imbalanced training set (``imbalance.prevalence_counts``: many ``notumor``, few
``glioma``), once per seed, and is scored on the balanced, patient-level test split and on an
imbalanced test set drawn like the training set (``imbalance.imbalanced_test_index``):

- plain cross-entropy, then its decision moved after training (prior correction; a threshold for
  the rarest class chosen on each seed's validation split);
- class-weighted cross-entropy; oversampling with a ``WeightedRandomSampler``; focal loss.

It prints one line per run, then for each test set the mean over seeds of accuracy, balanced
accuracy, macro-F1 and per-class recall with a 95 % patient-bootstrap interval, the paired
differences in balanced accuracy from the best row, and the thresholds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import pandas as pd

from course_lib.lessons.imbalance import (
    SEEDS,
    VAL_FRACTION,
    compare_methods,
    imbalanced_test_index,
    interval_table,
    lesson_profile,
    prevalence_counts,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", help="smoke, cpu or gpu (default cpu)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--difficulty", type=float, default=None, help="synthetic difficulty")
    args = parser.parse_args(argv)
    profile = lesson_profile(args.profile)
    per_patient = profile.slices_per_patient
    counts = prevalence_counts(2 * profile.samples_per_class, minimum=3 * per_patient)
    test_counts = prevalence_counts(4 * profile.test_per_class, minimum=2 * per_patient)
    options = {"val_fraction": VAL_FRACTION}
    if args.difficulty is not None:
        options["difficulty"] = args.difficulty
    print(
        f"profile {profile.name}: {profile.max_epochs} epochs, {profile.image_size}px, "
        f"{profile.slices_per_patient} slices per patient, seeds {args.seeds}"
    )
    print(f"training set (before the validation split): {counts}")
    print(f"imbalanced test set: {test_counts}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imbalance-") as root:
        os.environ["COURSE_DATA_DIR"] = root  # a fresh data set from the current generator
        imbalanced = imbalanced_test_index(profile, per_class=test_counts, data_options=options)
        comparison = compare_methods(
            per_class=counts,
            root_dir=root,
            profile=profile,
            seeds=args.seeds,
            data_options=options,
            imbalanced_test=imbalanced,
        )
    summary = comparison.summary(n_resamples=profile.bootstrap_samples)
    minutes = (time.perf_counter() - start) / 60
    print(f"\n{minutes:.1f} min in all; mean over seeds [95 % patient-bootstrap interval]")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        for test_set in comparison.test_sets:
            print(f"\n{test_set} test set:")
            print(interval_table(summary, test_set).to_string())
        diff = comparison.differences(n_resamples=profile.bootstrap_samples)
        print(f"\nbalanced accuracy of {diff.attrs['reference']} minus each other row:")
        print(diff.round(3).to_string())
        print("\nthresholds:")
        print(comparison.thresholds.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
