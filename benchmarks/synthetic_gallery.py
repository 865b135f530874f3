"""Side-by-side gallery: real MRI slices next to synthetic ones, class by class.

Run: ``.venv/bin/python benchmarks/synthetic_gallery.py [--out gallery.png]`` (a few seconds).

Each class gets three rows of six slices: the real sample in ``../shared/data/brain-mri-sample``
(when present), the synthetic set as the lessons draw it (``randomize=0``) and the
domain-randomised set (``randomize=1``), in the planes of ``--plane`` (default coronal). Open
the PNG and compare by eye. Prints the per-image intensity statistics (mean, spread and
foreground share) of each row, so the numbers can be compared too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from course_lib.config import CLASS_NAMES  # noqa: E402
from course_lib.datasets import load_image  # noqa: E402
from course_lib.synthetic import generate_slices  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brain-mri-sample"


def real_slices(root: Path, per_class: int, size: int) -> dict[str, list[np.ndarray]]:
    """Up to ``per_class`` real slices per class, as ``(size, size)`` floats in [0, 1]."""
    out = {}
    for name in CLASS_NAMES:
        files = sorted((root / name).glob("*.jpg"))[:per_class] if root.is_dir() else []
        out[name] = [_resized(load_image(f), size) for f in files]
    return out


def _resized(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size)), np.float32) / 255.0


def synthetic_slices(
    per_class: int, size: int, randomize: float, plane: tuple[str, ...] = ("coronal",)
) -> dict[str, list[np.ndarray]]:
    data = generate_slices(
        per_class, image_size=size, slices_per_patient=1, randomize=randomize, plane=plane, seed=5
    )
    names = data.metadata["class_name"].to_numpy()
    return {c: list(data.images[names == c]) for c in CLASS_NAMES}


def stats(images: list[np.ndarray]) -> str:
    if not images:
        return "none"
    stack = np.stack(images)
    fg = (stack > 0.1).mean()
    return f"mean {stack.mean():.3f}  std {stack.std():.3f}  foreground {fg:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="synthetic_gallery.png")
    parser.add_argument("--per-class", type=int, default=6)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument(
        "--plane", default="coronal", help="synthetic planes, comma-separated: axial,sagittal"
    )
    args = parser.parse_args()
    planes = tuple(args.plane.split(","))
    rows = {
        "real": real_slices(SAMPLE, args.per_class, args.size),
        "synthetic": synthetic_slices(args.per_class, args.size, 0.0, planes),
        "randomised": synthetic_slices(args.per_class, args.size, 1.0, planes),
    }
    n_rows = len(CLASS_NAMES) * len(rows)
    fig, axes = plt.subplots(
        n_rows, args.per_class, figsize=(1.6 * args.per_class, 1.6 * n_rows), squeeze=False
    )
    r = 0
    for name in CLASS_NAMES:
        for kind, images in rows.items():
            print(f"{name:<11} {kind:<11} {stats(images[name])}")
            for c in range(args.per_class):
                ax = axes[r, c]
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(images[name]):
                    ax.imshow(images[name][c], cmap="gray", vmin=0, vmax=1)
                if c == 0:
                    ax.set_ylabel(f"{name}\n{kind}", fontsize=8)
            r += 1
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
