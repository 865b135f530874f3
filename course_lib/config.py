"""Profiles, paths, seeding and the environment summary every notebook starts with.

A *profile* holds every size a lesson needs (image size, samples, batch size, epochs, ...), so a
notebook never changes for CI or for a laptop: it reads its sizes from the profile.

- ``smoke``: CI on a 2-core CPU; tiny images, few samples, one short epoch.
- ``cpu``: a laptop without a GPU; each lesson in minutes.
- ``gpu``: Colab or any CUDA machine; full size.

Selection (:func:`get_profile` with no name): ``COURSE_PROFILE`` wins; otherwise a set ``CI``
variable selects ``smoke``; otherwise ``gpu`` when CUDA is available; otherwise ``cpu``.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from course_lib._validation import check_int

#: The four classes, in label order, named as the Kaggle "Brain Tumor MRI Dataset" folders are.
CLASS_NAMES: tuple[str, ...] = ("glioma", "meningioma", "notumor", "pituitary")

#: Root of the repository (the folder holding ``course_lib/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Where this course's source lives; the Colab badges and the Colab install cell use it.
REPO_URL = "https://github.com/brain-mri-course/brain-tumor-mri-dl"


@dataclass(frozen=True)
class Profile:
    """Every size a lesson needs, for one kind of machine.

    Attributes:
        name: ``"smoke"``, ``"cpu"`` or ``"gpu"``.
        image_size: Side in pixels of the square slices the models see.
        samples_per_class: Synthetic slices generated per class for the training pool.
        test_per_class: Synthetic slices generated per class for the held-out test split.
        slices_per_patient: Neighbouring slices taken from each synthetic patient.
        batch_size: Mini-batch size for training and evaluation.
        max_epochs: Epochs of a lesson's main training run.
        limit_train_batches: Lightning's ``limit_train_batches`` (``1.0`` means all).
        limit_val_batches: Lightning's ``limit_val_batches`` (``1.0`` means all).
        num_workers: DataLoader worker processes.
        precision: Lightning precision string; ``"auto"`` picks mixed precision on a GPU
            (bf16 where supported) and 32-bit on a CPU, see :func:`resolve_precision`.
        bootstrap_samples: Resamples for bootstrap confidence intervals.
    """

    name: str
    image_size: int
    samples_per_class: int
    test_per_class: int
    slices_per_patient: int
    batch_size: int
    max_epochs: int
    limit_train_batches: float | int
    limit_val_batches: float | int
    num_workers: int
    precision: str
    bootstrap_samples: int

    def trainer_kwargs(self) -> dict:
        """Keyword arguments for ``lightning.Trainer`` that follow this profile.

        Returns:
            A dict with ``accelerator``, ``devices``, ``precision``, ``max_epochs`` and the
            batch limits; add your own callbacks and logger to it.

        >>> PROFILES["smoke"].trainer_kwargs()["max_epochs"]
        1
        """
        return {
            "accelerator": "auto",
            "devices": 1,
            "precision": resolve_precision(self.precision),
            "max_epochs": self.max_epochs,
            "limit_train_batches": self.limit_train_batches,
            "limit_val_batches": self.limit_val_batches,
        }

    def with_overrides(self, **changes) -> Profile:
        """Return a copy with some fields changed (the profile itself is frozen).

        Raises:
            TypeError: If a name in ``changes`` is not a field of the profile.

        >>> PROFILES["smoke"].with_overrides(batch_size=4).batch_size
        4
        """
        unknown = sorted(set(changes) - set(asdict(self)))
        if unknown:
            raise TypeError(
                f"Profile has no field(s) {unknown}; valid fields: {sorted(asdict(self))}"
            )
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        image_size=64,
        samples_per_class=24,
        test_per_class=8,
        slices_per_patient=4,
        batch_size=16,
        max_epochs=1,
        limit_train_batches=4,
        limit_val_batches=2,
        num_workers=0,
        precision="32-true",
        bootstrap_samples=50,
    ),
    "cpu": Profile(
        name="cpu",
        image_size=128,
        samples_per_class=300,
        test_per_class=80,
        slices_per_patient=4,
        batch_size=32,
        max_epochs=8,
        limit_train_batches=1.0,
        limit_val_batches=1.0,
        num_workers=2,
        precision="32-true",
        bootstrap_samples=500,
    ),
    "gpu": Profile(
        name="gpu",
        image_size=224,
        samples_per_class=1200,
        test_per_class=300,
        slices_per_patient=4,
        batch_size=64,
        max_epochs=20,
        limit_train_batches=1.0,
        limit_val_batches=1.0,
        num_workers=4,
        precision="auto",
        bootstrap_samples=1000,
    ),
}


def _cuda_available() -> bool:
    import torch  # lazy: config (profiles, paths) must not pull in torch, which takes seconds

    return torch.cuda.is_available()


def profile_name_from_env(environ: dict | None = None, cuda: bool | None = None) -> str:
    """Decide which profile applies, without building it.

    Args:
        environ: Environment variables to read (default ``os.environ``).
        cuda: Whether CUDA is available (default: ask torch).

    Returns:
        ``COURSE_PROFILE`` when set; else ``"smoke"`` when ``CI`` is set (and not ``"false"``
        or ``"0"``); else ``"gpu"`` with CUDA; else ``"cpu"``.

    >>> profile_name_from_env({"COURSE_PROFILE": "cpu", "CI": "true"}, cuda=True)
    'cpu'
    >>> profile_name_from_env({"CI": "true"}, cuda=True)
    'smoke'
    >>> profile_name_from_env({}, cuda=False)
    'cpu'
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get("COURSE_PROFILE", "").strip()
    if chosen:
        return chosen
    if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return "smoke"
    if cuda is None:
        cuda = _cuda_available()
    return "gpu" if cuda else "cpu"


def get_profile(name: str | None = None) -> Profile:
    """Return a profile by name, or the one that fits this machine.

    Args:
        name: ``"smoke"``, ``"cpu"`` or ``"gpu"``; ``None`` decides with
            :func:`profile_name_from_env`.

    Returns:
        The frozen :class:`Profile`.

    Raises:
        ValueError: If the name (given, or read from ``COURSE_PROFILE``) is not a profile.

    >>> get_profile("smoke").image_size
    64
    """
    if name is None:
        name = profile_name_from_env()
    key = str(name).strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r}; choose one of {sorted(PROFILES)} "
            "(set COURSE_PROFILE or pass the name)."
        )
    return PROFILES[key]


def resolve_precision(precision: str, cuda: bool | None = None, bf16: bool | None = None) -> str:
    """Turn ``"auto"`` into a concrete Lightning precision string.

    Args:
        precision: A Lightning precision string, or ``"auto"``.
        cuda: Whether CUDA is available (default: ask torch).
        bf16: Whether the GPU supports bfloat16 (default: ask torch).

    Returns:
        ``precision`` unchanged unless it is ``"auto"``; then ``"bf16-mixed"`` on a GPU with
        bfloat16, ``"16-mixed"`` on other GPUs and ``"32-true"`` on a CPU.

    >>> resolve_precision("auto", cuda=False)
    '32-true'
    >>> resolve_precision("auto", cuda=True, bf16=False)
    '16-mixed'
    >>> resolve_precision("bf16-mixed", cuda=False)
    'bf16-mixed'
    """
    if precision != "auto":
        return precision
    if cuda is None:
        cuda = _cuda_available()
    if not cuda:
        return "32-true"
    if bf16 is None:
        import torch  # lazy: config (profiles, paths) must not pull in torch, which takes seconds

        bf16 = torch.cuda.is_bf16_supported()
    return "bf16-mixed" if bf16 else "16-mixed"


def in_source_checkout(root: Path | None = None) -> bool:
    """Whether ``course_lib`` runs from a clone of the repository (an editable install).

    After a plain ``pip install`` (Colab, a wheel) the package sits in ``site-packages``, whose
    parent is no repository: this is ``False`` there.
    """
    root = REPO_ROOT if root is None else Path(root)
    pyproject = root / "pyproject.toml"
    try:
        return (root / "course_lib").is_dir() and 'name = "course-lib"' in pyproject.read_text()
    except OSError:
        return False


def data_dir(environ: dict | None = None) -> Path:
    """Return the folder where datasets live.

    In this order: ``COURSE_DATA_DIR`` when set; ``<repo>/datasets`` in a clone of the repository
    (what ``make lab`` uses, wherever the notebook runs from); ``/content/datasets`` on Colab;
    otherwise ``./datasets`` under the working directory. Never the installed package's folder.

    >>> data_dir({"COURSE_DATA_DIR": "/tmp/mri"}).as_posix()
    '/tmp/mri'
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get("COURSE_DATA_DIR", "").strip()
    if chosen:
        return Path(chosen).expanduser()
    if in_source_checkout():
        return REPO_ROOT / "datasets"
    if in_colab():
        return Path("/content/datasets")
    return Path.cwd() / "datasets"


def seed_everything(seed: int = 42) -> int:
    """Seed Python, NumPy and torch (and DataLoader workers) through Lightning.

    albumentations pipelines do not see this seed: give them their own (``seed=``).

    Args:
        seed: The seed.

    Returns:
        The seed used.

    Raises:
        TypeError: If ``seed`` is not an integer.
    """
    check_int("seed", seed)
    import pytorch_lightning as pl  # lazy: as torch, seconds to import

    return pl.seed_everything(seed, workers=True, verbose=False)


def epoch_seed(seed: int, epoch: int, stream: int = 0) -> int:
    """A 32-bit seed that depends only on ``(seed, epoch, stream)``, for per-epoch randomness.

    ``stream`` keeps separate draws apart (the sampler, the augmentation of each worker, the
    model's own randomness), so that none of them repeats another.

    >>> epoch_seed(42, 3) == epoch_seed(42, 3), epoch_seed(42, 3) == epoch_seed(42, 4)
    (True, False)
    """
    return int(np.random.SeedSequence([int(seed), int(epoch), int(stream)]).generate_state(1)[0])


def default_device():
    """Return the best ``torch.device`` here: a CUDA GPU, else an Apple GPU (MPS), else the CPU.

    Lightning picks the device itself (``accelerator="auto"``); use this only for plain torch code.
    """
    import torch  # lazy: config (profiles, paths) must not pull in torch, which takes seconds

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def measure_matmul(size: int = 1024, device=None, repeats: int = 5) -> float:
    """Measure how fast ``device`` multiplies two ``size x size`` float32 matrices.

    Args:
        size: Matrix side.
        device: A ``torch.device`` or name (default :func:`default_device`).
        repeats: Timed multiplications (after one warm-up).

    Returns:
        Throughput in GFLOP/s (``2 * size**3`` floating-point operations per multiplication).

    Raises:
        ValueError: If ``size`` or ``repeats`` is not a positive integer.
    """
    import torch  # lazy: config (profiles, paths) must not pull in torch, which takes seconds

    check_int("size", size, minimum=1)
    check_int("repeats", repeats, minimum=1)
    device = torch.device(device) if device is not None else default_device()
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    a @ b
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync()
    seconds = (time.perf_counter() - start) / repeats
    return 2 * size**3 / max(seconds, 1e-9) / 1e9


def in_colab() -> bool:
    """Whether this Python runs inside Google Colab."""
    return "google.colab" in sys.modules


def environment_summary(profile: Profile | None = None) -> dict[str, str]:
    """Collect what a student (or a bug report) needs to know about this machine.

    Args:
        profile: The profile in use (default: :func:`get_profile`).

    Returns:
        An ordered dict of names to printable values: python, torch, lightning, device, GPU
        name and memory (when there is one), profile and data dir.
    """
    import pytorch_lightning as pl  # lazy: as torch, seconds to import
    import torch  # lazy: config (profiles, paths) must not pull in torch, which takes seconds

    profile = get_profile() if profile is None else profile
    summary = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": pl.__version__,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        summary["device"] = "cuda (GPU)"
        summary["gpu"] = props.name
        summary["gpu memory"] = f"{props.total_memory / 2**30:.1f} GiB"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        summary["device"] = "mps (Apple GPU)"
    else:
        summary["device"] = f"cpu ({os.cpu_count()} cores), no GPU found"
    summary["profile"] = profile.name
    summary["data dir"] = str(data_dir())
    summary["colab"] = "yes" if in_colab() else "no"
    return summary


def setup(profile: str | None = None, seed: int = 42, verbose: bool = True) -> Profile:
    """Start a notebook: choose the profile, seed everything and print the environment.

    Args:
        profile: Profile name; ``None`` picks one for this machine (see :func:`get_profile`).
        seed: Seed for Python, NumPy and torch.
        verbose: Print the summary.

    Returns:
        The :class:`Profile` in use.

    Raises:
        ValueError: If ``profile`` names no profile.
    """
    chosen = get_profile(profile)
    seed_everything(seed)
    if verbose:
        summary = environment_summary(chosen)
        width = max(map(len, summary))
        for key, value in summary.items():
            print(f"{key:>{width}} : {value}")
    return chosen
