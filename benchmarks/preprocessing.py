"""Benchmark the classic preprocessing steps on the synthetic brain-MRI set (ground truth known).

Prints:
1. skull stripping: Dice of ``strip_skull`` against the synthetic brain masks;
2. N4: white-matter coefficient of variation before/after, and the correlation of the estimated
   with the true bias field (2D slices and one 3D volume);
3. registration: brain-mask Dice before/after registering a randomly moved copy back
   (rigid and affine motions, rigid and affine models, 2D and 3D);
4. harmonisation: per-site histogram distance inside the brain before/after each normalisation.

Run: ``.venv/bin/python benchmarks/preprocessing.py [--per-class 75] [--image-size 128]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import SimpleITK as sitk
from skimage.filters import threshold_multiotsu

from course_lib import preprocessing as P
from course_lib import synthetic
from course_lib.config import PROFILES
from course_lib.registration import apply_transform, register


def section(title: str) -> None:
    print(f"\n== {title}")


def white_matter(image: np.ndarray, field: np.ndarray, brain: np.ndarray, tumor: np.ndarray):
    """WM mask from the bias-free image: brightest of three Otsu classes in healthy brain."""
    clean = image / field
    healthy = brain & (tumor == 0)
    t_low, t_high = threshold_multiotsu(clean[healthy], classes=3)
    return healthy & (clean > t_high)


def bench_skull(data, n4_count: int) -> None:
    section(f"skull stripping: {len(data.images)} slices {data.images.shape[1:]}")
    start = time.perf_counter()
    scores = np.array(
        [
            P.dice(P.strip_skull(img), brain)
            for img, brain in zip(data.images, data.brain_masks, strict=True)
        ]
    )
    took = time.perf_counter() - start
    print(
        f"Dice mean {scores.mean():.3f}  median {np.median(scores):.3f}  min {scores.min():.3f}  "
        f"fraction >= 0.90 {np.mean(scores >= 0.9):.3f}  ({1000 * took / len(scores):.1f} ms/slice)"
    )
    meta = data.metadata.assign(dice=scores)
    for column in ("class_name", "site"):
        means = meta.groupby(column)["dice"].mean()
        print(f"mean Dice by {column}: " + ", ".join(f"{k} {v:.3f}" for k, v in means.items()))
    picks = np.linspace(0, len(scores) - 1, min(n4_count, len(scores))).astype(int)
    n4_scores = []
    for i in picks:
        corrected, _ = P.correct_bias_field(data.images[i])  # Otsu head mask, no ground truth
        n4_scores.append(P.dice(P.strip_skull(corrected), data.brain_masks[i]))
    n4_scores = np.array(n4_scores)
    print(
        f"N4 first, then strip ({len(picks)} slices; raw {scores[picks].mean():.3f} on them): "
        f"Dice mean {n4_scores.mean():.3f}  min {n4_scores.min():.3f}  "
        f"fraction >= 0.90 {np.mean(n4_scores >= 0.9):.3f}"
    )


def bench_n4(data, count: int, seed: int) -> None:
    section(f"N4 bias-field correction: {count} slices, brain mask, shrink 2")
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(data.images), size=min(count, len(data.images)), replace=False)
    cv_before, cv_after, corr, times = [], [], [], []
    for i in picks:
        img, brain = data.images[i].astype(np.float64), data.brain_masks[i]
        field, tumor = data.bias_fields[i], data.tumor_masks[i]
        wm = white_matter(img, field, brain, tumor)
        start = time.perf_counter()
        corrected, estimated = P.correct_bias_field(img, brain)
        times.append(time.perf_counter() - start)
        cv_before.append(P.coefficient_of_variation(img, wm))
        cv_after.append(P.coefficient_of_variation(corrected, wm))
        corr.append(P.field_correlation(estimated, field, brain))
    cv_before, cv_after = np.array(cv_before), np.array(cv_after)
    print(
        f"WM CV before {cv_before.mean():.4f}  after {cv_after.mean():.4f}  "
        f"(lower in {np.mean(cv_after < cv_before):.0%} of slices)"
    )
    print(
        f"corr(estimated, true log-field) mean {np.mean(corr):.3f}  median {np.median(corr):.3f}"
        f"  ({1000 * np.mean(times):.0f} ms/slice)"
    )
    vol = synthetic.generate_volume("glioma", shape=(32, 96, 96), contrasts=("T1",), seed=seed)
    img, brain, field = vol["images"]["T1"], vol["brain_mask"], vol["bias_field"]
    wm = white_matter(img, field, brain, vol["tumor_mask"])
    start = time.perf_counter()
    corrected, estimated = P.correct_bias_field(img, brain)
    took = time.perf_counter() - start
    print(
        f"3D volume {img.shape}: WM CV {P.coefficient_of_variation(img, wm):.4f} -> "
        f"{P.coefficient_of_variation(corrected, wm):.4f}, corr "
        f"{P.field_correlation(estimated, field, brain):.3f} ({took:.1f} s)"
    )


def random_motion(dim: int, kind: str, center, rng: np.random.Generator) -> sitk.Transform:
    """A random rigid (10 deg, 6 px) or affine (+ scale 0.88-1.12, shear 0.08) motion."""
    if dim == 2:
        rigid = sitk.Euler2DTransform(
            center, np.deg2rad(rng.uniform(-10, 10)), rng.uniform(-6, 6, 2)
        )
    else:
        angles = np.deg2rad(rng.uniform(-8, 8, 3))
        rigid = sitk.Euler3DTransform(center, *angles, rng.uniform(-5, 5, 3))
    if kind == "rigid":
        return rigid
    affine = sitk.AffineTransform(dim)
    affine.SetCenter(center)
    affine.SetTranslation(rigid.GetTranslation())
    rotation = np.array(rigid.GetMatrix()).reshape(dim, dim)
    stretch = np.diag(rng.uniform(0.88, 1.12, dim)) + rng.uniform(-0.08, 0.08, (dim, dim)) * (
        1 - np.eye(dim)
    )
    affine.SetMatrix((rotation @ stretch).ravel().tolist())
    return affine


def bench_registration(data, count: int, volumes: int, seed: int) -> None:
    section(f"registration (Mattes MI): {count} slices, {volumes} volumes, random motions")
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(data.images), size=min(count, len(data.images)), replace=False)
    cases = [(data.images[i], data.brain_masks[i]) for i in picks]
    for v in range(volumes):
        vol = synthetic.generate_volume(
            "meningioma", shape=(32, 96, 96), contrasts=("T1",), seed=seed + v
        )
        cases.append((vol["images"]["T1"], vol["brain_mask"]))
    for dim in (2, 3):
        for motion in ("rigid", "affine"):
            before, after = [], {"rigid": [], "affine": []}
            took = {"rigid": 0.0, "affine": 0.0}
            for img, brain in [c for c in cases if c[0].ndim == dim]:
                center = [(s - 1) / 2 for s in img.shape[::-1]]
                tx = random_motion(dim, motion, center, rng)
                moving = apply_transform(img, tx, img)
                moving_brain = apply_transform(brain, tx, brain)
                before.append(P.dice(moving_brain, brain))
                for model in ("rigid", "affine"):
                    start = time.perf_counter()
                    _, fitted = register(moving, img, transform=model, seed=seed)
                    took[model] += time.perf_counter() - start
                    after[model].append(P.dice(apply_transform(moving_brain, fitted, brain), brain))
            n = len(before)
            print(
                f"{dim}D {motion:6s} motion (n={n}): Dice before {np.mean(before):.3f} | after "
                + " | ".join(
                    f"{m} model {np.mean(a):.3f} (min {np.min(a):.3f}, {took[m] / n:.2f} s)"
                    for m, a in after.items()
                )
            )


def bench_harmonisation(data, seed: int) -> None:
    sites = data.metadata["site"].to_numpy()
    section(f"site harmonisation: {len(data.images)} slices from sites {sorted(set(sites))}")
    rng = np.random.default_rng(seed)
    train = rng.random(len(data.images)) < 0.5
    images, masks = list(data.images), list(data.brain_masks)
    landmarks = P.fit_histogram_standardization(
        [im for im, t in zip(images, train, strict=True) if t],
        [m for m, t in zip(masks, train, strict=True) if t],
    )
    methods = {
        "raw": lambda im, m: im,
        "min-max (brain)": lambda im, m: P.normalize_minmax(im, mask=m),
        "clip 1-99 + min-max": lambda im, m: P.normalize_minmax(
            P.clip_percentiles(im, mask=m), mask=m
        ),
        "z-score (brain)": lambda im, m: P.normalize_zscore(im, m),
        "Nyul-Udupa (fit on half)": lambda im, m: P.apply_histogram_standardization(
            im, landmarks, m
        ),
    }
    print(f"{'normalisation':26s} {'KS':>7s} {'W1/std':>7s}   (mean over site pairs, inside brain)")
    for name, fn in methods.items():
        out = [fn(im, m) for im, m in zip(images, masks, strict=True)]
        ks = P.site_histogram_distance(out, sites, masks, metric="ks")
        w1 = P.site_histogram_distance(out, sites, masks, metric="wasserstein")
        print(f"{name:26s} {ks:7.3f} {w1:7.3f}")


def main() -> None:
    cpu = PROFILES["cpu"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=75, help="slices per class")
    parser.add_argument("--image-size", type=int, default=cpu.image_size)
    parser.add_argument("--n4-slices", type=int, default=40)
    parser.add_argument("--n4-strip-slices", type=int, default=300, help="N4 then strip")
    parser.add_argument("--reg-slices", type=int, default=20)
    parser.add_argument("--reg-volumes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    data = synthetic.generate_slices(
        per_class=args.per_class,
        image_size=args.image_size,
        slices_per_patient=cpu.slices_per_patient,
        seed=args.seed,
    )
    print(f"generated {data.images.shape} in {time.perf_counter() - start:.1f} s")
    bench_skull(data, args.n4_strip_slices)
    bench_n4(data, args.n4_slices, args.seed)
    bench_registration(data, args.reg_slices, args.reg_volumes, args.seed)
    bench_harmonisation(data, args.seed)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
