"""Realism: how well a small CNN tells real MRI slices from synthetic ones (lower is better).

Run: ``.venv/bin/python benchmarks/realism.py [--plane coronal] [--randomize 0.5] [--out
realism.png]`` (about 1 minute on 2 free CPU cores, 3 when another job shares them; needs
``../shared/data``, or ``--data PATH``).

Real: the 80-slice sample in ``brain-mri-sample`` plus ``--real`` (320) slices drawn at random
(seed 0, evenly over the four classes) from ``kaggle-training``. Synthetic: as many slices, class
for class, from :func:`course_lib.synthetic.generate_slices` (1 slice per patient, 128 px, the
``--plane``, ``--contrast`` and ``--randomize`` asked for). Both are resized to ``--size`` (64)
and min-max normalised image by image, so a discriminator cannot win on the global scale alone.

Prints, over a stratified 5-fold cross-validation (real/synthetic x class, seed 0):

1. a small CNN discriminator (4 conv blocks, 16-64 channels, random flips, AdamW, ``--epochs``):
   accuracy (mean +- sd over folds), ROC AUC and log loss (which still falls, and still ranks
   generators, once accuracy has reached 1), and the out-of-fold accuracy (with the mean
   probability given to the right answer) on the real images of each class and source and on
   the synthetic images of each class, plane, contrast and site the generator records;
2. logistic regression on a 32-bin intensity histogram of each image: whether the intensity
   distribution alone gives the synthetic images away;
3. per class, the Wasserstein distance between the pooled foreground intensities (> 0.05) of the
   real and the synthetic images (``--out FILE.png`` draws those histograms);
4. one summary line. 0.5 accuracy (AUC 0.5) means the discriminator cannot tell them apart.

It also runs against an older ``course_lib`` (``PYTHONPATH=/old/checkout``): generator options
that version does not know (``plane``, ``randomize``) are dropped with a notice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from scipy.stats import wasserstein_distance  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from torch import nn  # noqa: E402

import course_lib  # noqa: E402
from course_lib import synthetic  # noqa: E402
from course_lib.config import CLASS_NAMES  # noqa: E402
from course_lib.datasets import load_image  # noqa: E402

try:  # an old course_lib may lack the spec module
    from course_lib import synthetic_spec
except ImportError:
    synthetic_spec = None

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: What each option does when the generator does not know it (its old, fixed behaviour).
OLD_DEFAULTS = {"plane": ("coronal",), "randomize": 0.0}
FOREGROUND = 0.05
HIST_BINS = 32


# ----------------------------------------------------------------------------- data


def minmax(images: np.ndarray) -> np.ndarray:
    """Each ``(H, W)`` image of an ``(N, H, W)`` stack scaled to [0, 1] by its own min and max.

    >>> minmax(np.array([[[2.0, 4.0]], [[1.0, 1.0]]])).tolist()
    [[[0.0, 1.0]], [[0.0, 0.0]]]
    """
    images = np.asarray(images, np.float32)
    low = images.min(axis=(1, 2), keepdims=True)
    span = images.max(axis=(1, 2), keepdims=True) - low
    return (images - low) / np.where(span > 0, span, 1.0)


def resized(image: np.ndarray, size: int) -> np.ndarray:
    """One float image resized to ``(size, size)`` (antialiased bilinear, as float32)."""
    img = Image.fromarray(np.asarray(image, np.float32), mode="F")
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), np.float32)


def real_files(data: Path, extra: int, seed: int) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """The sample's files plus ``extra`` from kaggle-training, evenly over the classes.

    Returns:
        The files, their class labels and whether each comes from the 80-slice sample.
    """
    files, labels, in_sample = [], [], []
    rng = np.random.default_rng(seed)
    n = len(CLASS_NAMES)
    counts = [extra // n + (i < extra % n) for i in range(n)]
    for label, name in enumerate(CLASS_NAMES):
        sample = sorted((data / "brain-mri-sample" / name).glob("*.jpg"))
        pool = sorted((data / "kaggle-training" / name).glob("*.jpg")) if extra else []
        if counts[label] > len(pool):
            raise ValueError(
                f"--real {extra} asks for {counts[label]} {name} slices from kaggle-training, "
                f"which holds {len(pool)}"
            )
        drawn = [pool[i] for i in sorted(rng.choice(len(pool), counts[label], replace=False))]
        files += sample + drawn
        labels += [label] * (len(sample) + len(drawn))
        in_sample += [True] * len(sample) + [False] * len(drawn)
    return files, np.array(labels), np.array(in_sample)


def load_real(files: list[Path], size: int) -> np.ndarray:
    """``(N, size, size)`` float32 in [0, 1], each image min-max normalised."""
    return minmax(np.stack([resized(load_image(f) / np.float32(255), size) for f in files]))


def generator_fields() -> tuple[str, ...] | None:
    """The options ``generate_slices`` knows, or ``None`` when this course_lib cannot say."""
    spec = getattr(synthetic_spec, "SyntheticSpec", None) or getattr(
        synthetic, "SyntheticSpec", None
    )
    return tuple(spec.field_names()) if hasattr(spec, "field_names") else None


def generator_version() -> str:
    for module in (synthetic_spec, synthetic):
        version = getattr(module, "GENERATOR_VERSION", None)
        if version is not None:
            return str(version)
    return "unknown"


def synthetic_options(
    requested: dict, fields: tuple[str, ...] | None
) -> tuple[dict, list[str], dict]:
    """Split the requested generator options into those the generator knows and the rest.

    An option is kept when ``fields`` lists it, or when ``fields`` is ``None`` (unknown) and the
    value differs from :data:`OLD_DEFAULTS`. A dropped option gets a notice when its value was
    not the old behaviour anyway.

    Returns:
        The options to pass, the notices, and the values in effect (dropped ones at their old
        default).

    >>> passed, notices, effective = synthetic_options(
    ...     {"plane": ("axial",), "randomize": 0.0}, ("seed", "randomize")
    ... )
    >>> passed, effective["plane"], notices
    ({'randomize': 0.0}, ('coronal',), ["this course_lib's generator has no 'plane' option: \
it draws coronal, not axial"])
    """
    passed, notices, effective = {}, [], {}
    for name, value in requested.items():
        old = OLD_DEFAULTS.get(name)
        known = name in fields if fields is not None else (old is None or value != old)
        if known:
            passed[name] = effective[name] = value
            continue
        effective[name] = old
        if value != old:
            notices.append(
                f"this course_lib's generator has no {name!r} option: it draws "
                f"{_text(old)}, not {_text(value)}"
            )
    return passed, notices, effective


def _text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def load_synthetic(counts: dict[str, int], size: int, options: dict, seed: int):
    """Synthetic slices, ``counts`` per class, as ``(N, size, size)`` floats, plus metadata."""
    data = synthetic.generate_slices(
        counts, image_size=128, slices_per_patient=1, seed=seed, **options
    )
    images = minmax(np.stack([resized(img, size) for img in data.images]))
    return images, data.metadata.reset_index(drop=True)


# ----------------------------------------------------------------------------- discriminators


def make_cnn(channels: tuple[int, ...] = (16, 32, 64, 64)) -> nn.Module:
    """A small CNN: conv-BN-ReLU-maxpool blocks, global average pooling, one logit."""
    layers, prev = [], 1
    for out in channels:
        layers += [
            nn.Conv2d(prev, out, 3, padding=1, bias=False),
            nn.BatchNorm2d(out),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
        prev = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(prev, 1))


def random_flips(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Flip each image of an ``(N, 1, H, W)`` batch left-right and up-down, each with p 0.5."""
    n = len(x)
    lr = torch.rand(n, generator=gen) < 0.5
    ud = torch.rand(n, generator=gen) < 0.5
    x = torch.where(lr[:, None, None, None], x.flip(3), x)
    return torch.where(ud[:, None, None, None], x.flip(2), x)


def train_cnn(x, y, *, epochs: int, seed: int, batch_size: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = make_cnn().to(memory_format=torch.channels_last)  # about 1.4x faster on CPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    x = torch.from_numpy(x[:, None]).to(memory_format=torch.channels_last)
    y = torch.from_numpy(y.astype(np.float32))
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(random_flips(x[idx], gen)).squeeze(1), y[idx])
            loss.backward()
            optimizer.step()
        scheduler.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Probability of "synthetic" for each image."""
    x = torch.from_numpy(x[:, None]).to(memory_format=torch.channels_last)
    return torch.sigmoid(model(x).squeeze(1)).numpy()


def histogram_features(images: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """``(N, bins)``: each image's share of pixels in ``bins`` equal bins over [0, 1]."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    flat = images.reshape(len(images), -1)
    return np.stack([np.histogram(img, edges)[0] for img in flat]) / flat.shape[1]


def cross_validate(fit_predict, x, y, folds) -> dict:
    """Accuracy, AUC and log loss per fold, and the out-of-fold probabilities.

    ``fit_predict(fold, x_train, y_train, x_test)`` returns the probability of class 1.
    """
    proba = np.zeros(len(y))
    accuracy, auc, loss = [], [], []
    for fold, (train, test) in enumerate(folds):
        p = fit_predict(fold, x[train], y[train], x[test])
        proba[test] = p
        accuracy.append(float(((p > 0.5) == y[test]).mean()))
        auc.append(float(roc_auc_score(y[test], p)))
        loss.append(float(log_loss(y[test], np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])))
    return {
        "accuracy": np.array(accuracy),
        "auc": np.array(auc),
        "log_loss": np.array(loss),
        "proba": proba,
    }


# ----------------------------------------------------------------------------- report


def intensity_distances(real, real_labels, synth, synth_labels) -> dict[str, float]:
    """Per class, W1 between the pooled foreground intensities of real and synthetic images."""
    out = {}
    for label, name in enumerate(CLASS_NAMES):
        r = real[real_labels == label].ravel()
        s = synth[synth_labels == label].ravel()
        out[name] = float(wasserstein_distance(r[r > FOREGROUND], s[s > FOREGROUND]))
    return out


def plot_histograms(real, real_labels, synth, synth_labels, distances, title, path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    bins = np.linspace(FOREGROUND, 1.0, 60)
    for (label, name), ax in zip(enumerate(CLASS_NAMES), axes.ravel(), strict=True):
        for images, labels, kind, color in (
            (real, real_labels, "real", "tab:blue"),
            (synth, synth_labels, "synthetic", "tab:orange"),
        ):
            values = images[labels == label].ravel()
            values = values[values > FOREGROUND]
            n = int((labels == label).sum())
            ax.hist(values, bins, density=True, histtype="stepfilled", alpha=0.35, color=color)
            ax.hist(
                values,
                bins,
                density=True,
                histtype="step",
                lw=1.5,
                color=color,
                label=f"{kind} ({n} images)",
            )
        ax.set_title(f"{name}: Wasserstein distance {distances[name]:.3f}")
        ax.set_xlabel(f"pixel intensity (min-max normalised, foreground > {FOREGROUND})")
        ax.set_ylabel("density")
        ax.set_xlim(0, 1)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def group_line(title: str, groups: dict[str, np.ndarray], correct, confidence) -> str:
    """``title: name accuracy (mean confidence), ...`` over the groups (boolean masks)."""
    parts = [
        f"{name} {correct[mask].mean():.2f} ({confidence[mask].mean():.2f})"
        for name, mask in groups.items()
        if mask.any()
    ]
    return f"  {title:<24}" + ", ".join(parts)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with brain-mri-sample")
    parser.add_argument("--real", type=int, default=320, help="extra real slices (kaggle)")
    parser.add_argument("--size", type=int, default=64, help="side the images are resized to")
    parser.add_argument("--plane", default="axial,coronal,sagittal", help="comma-separated")
    parser.add_argument("--contrast", default="T1CE", help="comma-separated, e.g. T1CE,T2")
    parser.add_argument("--randomize", type=float, default=0.0, help="0 (off) to 1")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS threads")
    parser.add_argument("--seed", type=int, default=0, help="real draw and generator seed")
    parser.add_argument("--out", type=Path, help="write the intensity histograms to this PNG")
    args = parser.parse_args(argv)
    for name, low in (("real", 0), ("size", 16), ("epochs", 1), ("folds", 2), ("threads", 1)):
        if getattr(args, name) < low:
            parser.error(f"--{name} must be at least {low}, got {getattr(args, name)}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    sample = args.data / "brain-mri-sample"
    if not sample.is_dir():
        sys.exit(
            f"error: the real MRI sample is needed, and {sample} is not there: put "
            "brain-mri-sample (and kaggle-training) under ../shared/data, or pass --data PATH"
        )
    if args.real and not (args.data / "kaggle-training").is_dir():
        sys.exit(
            f"error: --real {args.real} draws from {args.data / 'kaggle-training'}, which is not "
            "there: pass --real 0 to use the 80-slice sample alone"
        )
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    version = generator_version()
    print(f"course_lib from {Path(course_lib.__file__).parent}; generator version {version}")

    requested = {
        "plane": tuple(args.plane.split(",")),
        "contrast": tuple(args.contrast.split(",")),
        "randomize": args.randomize,
    }
    options, notices, effective = synthetic_options(requested, generator_fields())
    for notice in notices:
        print(f"notice: {notice}")

    with threadpool_limits(args.threads):
        try:
            files, real_labels, in_sample = real_files(args.data, args.real, args.seed)
            real = load_real(files, args.size)
            counts = {c: int((real_labels == i).sum()) for i, c in enumerate(CLASS_NAMES)}
            synth, meta = load_synthetic(counts, args.size, options, args.seed)
        except (ValueError, TypeError, OSError) as err:
            sys.exit(f"error: {err}")
        synth_labels = meta["label"].to_numpy()
        loaded = time.perf_counter()
        print(
            f"real {len(real)} ({int(in_sample.sum())} sample + {int((~in_sample).sum())} "
            f"kaggle), synthetic {len(synth)}; {args.size} px; loaded in {loaded - start:.1f} s"
        )

        x = np.concatenate([real, synth])
        y = np.concatenate([np.zeros(len(real), int), np.ones(len(synth), int)])
        classes = np.concatenate([real_labels, synth_labels])
        strata = y * len(CLASS_NAMES) + classes
        folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=0).split(x, strata))

        def cnn(fold, x_train, y_train, x_test):
            model = train_cnn(x_train, y_train, epochs=args.epochs, seed=fold)
            return predict(model, x_test)

        cnn_result = cross_validate(cnn, x, y, folds)
        trained = time.perf_counter()

        def histogram_lr(fold, x_train, y_train, x_test):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
            return model.fit(x_train, y_train).predict_proba(x_test)[:, 1]

        hist_result = cross_validate(histogram_lr, histogram_features(x), y, folds)
        distances = intensity_distances(real, real_labels, synth, synth_labels)

    plane_text = _text(effective["plane"])
    contrast_text = _text(effective["contrast"])
    print(
        f"\nCNN discriminator ({args.folds}-fold, {args.epochs} epochs, "
        f"{trained - loaded:.0f} s): accuracy {cnn_result['accuracy'].mean():.3f} ± "
        f"{cnn_result['accuracy'].std():.3f}, AUC {cnn_result['auc'].mean():.3f} ± "
        f"{cnn_result['auc'].std():.3f}, log loss {cnn_result['log_loss'].mean():.3f} "
        "(chance 0.693)"
    )
    print("  accuracy per fold       " + ", ".join(f"{a:.2f}" for a in cnn_result["accuracy"]))
    print("  out-of-fold accuracy (mean probability given to the right answer):")
    proba = cnn_result["proba"]
    correct = (proba > 0.5) == y
    is_real = y == 0
    real_args = correct[is_real], 1 - proba[is_real]
    synth_args = correct[~is_real], proba[~is_real]
    by_class = {c: real_labels == i for i, c in enumerate(CLASS_NAMES)}
    print(group_line("real, per class", by_class, *real_args))
    by_source = {"sample": in_sample, "kaggle": ~in_sample}
    print(group_line("real, by source", by_source, *real_args))
    by_class = {c: synth_labels == i for i, c in enumerate(CLASS_NAMES)}
    print(group_line("synthetic, per class", by_class, *synth_args))
    for column in ("plane", "contrast", "site"):
        if column in meta and meta[column].nunique() > 1:
            values = meta[column].to_numpy()
            groups = {str(v): values == v for v in sorted(set(values))}
            print(group_line(f"synthetic, per {column}", groups, *synth_args))

    print(
        f"\nhistogram LR ({HIST_BINS} bins): accuracy {hist_result['accuracy'].mean():.3f} ± "
        f"{hist_result['accuracy'].std():.3f}, AUC {hist_result['auc'].mean():.3f} ± "
        f"{hist_result['auc'].std():.3f}, log loss {hist_result['log_loss'].mean():.3f}"
    )
    print(f"\nWasserstein distance, foreground (> {FOREGROUND}) intensities, real vs synthetic:")
    for name in CLASS_NAMES:
        r = real[real_labels == CLASS_NAMES.index(name)]
        s = synth[synth_labels == CLASS_NAMES.index(name)]
        print(
            f"  {name:<11} {distances[name]:.3f}   mean real {r[r > FOREGROUND].mean():.3f} "
            f"synthetic {s[s > FOREGROUND].mean():.3f}; foreground share real "
            f"{(r > FOREGROUND).mean():.2f} synthetic {(s > FOREGROUND).mean():.2f}"
        )
    if args.out:
        title = (
            f"real vs synthetic (generator v{version}; plane {plane_text}; contrast "
            f"{contrast_text}; randomize {effective['randomize']})"
        )
        plot_histograms(real, real_labels, synth, synth_labels, distances, title, args.out)
        print(f"wrote {args.out}")

    print(
        f"\ndiscriminator CNN accuracy {cnn_result['accuracy'].mean():.2f} ± "
        f"{cnn_result['accuracy'].std():.2f} (AUC {cnn_result['auc'].mean():.2f}, log loss "
        f"{cnn_result['log_loss'].mean():.3f}); histogram LR "
        f"{hist_result['accuracy'].mean():.2f}; generator v{version}; plane {plane_text}; "
        f"contrast {contrast_text}; randomize {effective['randomize']}; "
        f"{time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
