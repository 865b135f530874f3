"""The one description of a synthetic dataset: :class:`SyntheticSpec` (defaults, checks, key).

The generator (:func:`course_lib.synthetic.generate_slices`), the writer
(:func:`course_lib.datasets.prepare_synthetic`), the DataModule and the command lines all take a
spec, so its defaults and its rules live here and nowhere else.

>>> spec = SyntheticSpec(image_size=64, per_class=24, test_per_class=8)
>>> spec.folder_name()[:19], spec.class_counts()["glioma"], spec.total_counts()["glioma"]
('synthetic-64px-24pc', 24, 32)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields

from course_lib._validation import check_int, check_number, is_int
from course_lib.acquisition import contrast_names, site_names
from course_lib.anatomy import PLANES
from course_lib.config import CLASS_NAMES, Profile, get_profile

#: Bump whenever a change makes the generator draw different images for the same spec: datasets
#: written to disk are named after it, so an old set is never mistaken for a new one.
GENERATOR_VERSION = 5


@dataclass(frozen=True)
class SyntheticSpec:
    """What a synthetic dataset holds. Frozen; :meth:`replace` makes a changed copy.

    Attributes:
        image_size: Side of the square slices in pixels (16 to 2048).
        per_class: Training slices per class: one int for every class, or
            ``{class_name: count}`` for an imbalanced set (classes left out get none).
        test_per_class: Testing slices per class (whole patients, so possibly a few more);
            0 means no test split (only :func:`~course_lib.synthetic.generate_slices` allows it).
        slices_per_patient: Neighbouring slices per patient (1 to 256).
        sites: Number of built-in scanner sites (1 to 5), or their names.
        contrast: One of ``acquisition.CONTRASTS``, or a sequence of them, spread evenly over
            each class's patients.
        plane: ``"coronal"``, ``"axial"`` or ``"sagittal"`` (``anatomy.PLANES``), or a sequence
            of them spread evenly over each class's patients (a mix of views, as real sets hold).
        difficulty: 0 (large, bright tumours) to 3 (small, subtle ones).
        duplicates: Fraction (0 to 1) of slices saved again as near-copies under a new patient
            id, as scraped public sets hold them.
        randomize: Domain randomisation, 0 (off: the contrasts and sites as named) to 1 (every
            patient's tissue intensities, scanner and pose drawn at random, as SynthSeg does):
            the mode to train a model that should work on real scans of any contrast.
        seed: Seed of the generator (and of the writer's patient split).
        confound_contrast: Source-confound trap (:mod:`course_lib.confounds`), 0 (off) to 1:
            the probability that a ``notumor`` patient is rendered in T2 or FLAIR
            (``confounds.CONFOUND_CONTRASTS``, drawn per patient) instead of ``contrast``, as
            when the no-tumour images come from another source; tumour patients keep
            ``contrast``.
        confound_plane: Trap, 0 to 1: the probability that a patient is cut in its class's own
            plane (``confounds.CLASS_PLANES``, a made-up mapping) instead of ``plane``.
        confound_marks: Trap, 0 to 1: the probability that a slice of a tumour class carries a
            burned-in annotation (a white arrow at the tumour and a text label,
            :func:`~course_lib.confounds.burn_annotation`); ``notumor`` slices never do, and
            the masks are unchanged.
        confound_fov: Trap, 0 to 1: the probability that a patient's head is drawn at its
            class's zoom (``confounds.CLASS_FOV``, made up: ``notumor`` smaller, ``pituitary``
            larger), masks included.

    Raises:
        TypeError: If a field has the wrong kind (a float image size, a string count).
        ValueError: If a value is out of range, a class, site or contrast name is unknown, or
            no slice at all is asked for.
    """

    image_size: int = 128
    per_class: int | dict[str, int] = 100
    test_per_class: int = 25
    slices_per_patient: int = 4
    sites: int | tuple[str, ...] = 3
    contrast: str | tuple[str, ...] = "T1CE"
    plane: str | tuple[str, ...] = "coronal"
    difficulty: float = 1.0
    duplicates: float = 0.0
    randomize: float = 0.0
    seed: int = 0
    confound_contrast: float = 0.0
    confound_plane: float = 0.0
    confound_marks: float = 0.0
    confound_fov: float = 0.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # a frozen dataclass normalises its own fields here
        set_(self, "image_size", check_int("image_size", self.image_size, minimum=16, maximum=2048))
        set_(self, "per_class", _check_per_class(self.per_class))
        set_(self, "test_per_class", check_int("test_per_class", self.test_per_class, minimum=0))
        set_(
            self,
            "slices_per_patient",
            check_int("slices_per_patient", self.slices_per_patient, minimum=1, maximum=256),
        )
        sites = site_names(self.sites)
        set_(self, "sites", int(self.sites) if is_int(self.sites) else sites)
        names = contrast_names(self.contrast)
        set_(self, "contrast", self.contrast if isinstance(self.contrast, str) else names)
        planes = plane_names(self.plane)
        set_(self, "plane", self.plane if isinstance(self.plane, str) else planes)
        set_(self, "difficulty", check_number("difficulty", self.difficulty, minimum=0, maximum=3))
        set_(self, "duplicates", check_number("duplicates", self.duplicates, minimum=0, maximum=1))
        set_(self, "randomize", check_number("randomize", self.randomize, minimum=0, maximum=1))
        set_(self, "seed", check_int("seed", self.seed, minimum=0))
        for name in ("confound_contrast", "confound_plane", "confound_marks", "confound_fov"):
            set_(self, name, check_number(name, getattr(self, name), minimum=0, maximum=1))
        if sum(self.total_counts().values()) == 0:
            raise ValueError(f"per_class asks for no slices at all: {self.per_class!r}")

    @classmethod
    def from_profile(cls, profile: Profile | str | None = None, **changes) -> SyntheticSpec:
        """The spec a profile implies (its image size, samples, test size, slices per patient).

        Args:
            profile: A :class:`~course_lib.config.Profile`, its name, or ``None`` (this
                machine's).
            **changes: Fields to change.

        Returns:
            The spec.

        Raises:
            TypeError: If a name in ``changes`` is not a field.

        >>> SyntheticSpec.from_profile("smoke").per_class
        24
        """
        if profile is None or isinstance(profile, str):
            profile = get_profile(profile)
        spec = cls(
            image_size=profile.image_size,
            per_class=profile.samples_per_class,
            test_per_class=profile.test_per_class,
            slices_per_patient=profile.slices_per_patient,
        )
        return spec.replace(**changes)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of the fields, in order."""
        return tuple(f.name for f in fields(cls))

    def replace(self, **changes) -> SyntheticSpec:
        """A copy with some fields changed (checked like a new spec).

        Raises:
            TypeError: If a name in ``changes`` is not a field.
        """
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise TypeError(
                f"SyntheticSpec has no field(s) {unknown}; its fields: {list(self.field_names())}"
            )
        return dataclasses.replace(self, **changes)

    def class_counts(self) -> dict[str, int]:
        """Training slices per class, for every class in ``CLASS_NAMES`` order."""
        if isinstance(self.per_class, dict):
            return {c: self.per_class.get(c, 0) for c in CLASS_NAMES}
        return dict.fromkeys(CLASS_NAMES, self.per_class)

    def total_counts(self) -> dict[str, int]:
        """Slices per class to generate: training plus testing."""
        return {c: n + self.test_per_class for c, n in self.class_counts().items()}

    def check_split(self) -> None:
        """Check that a patient-level Training/Testing split of this spec leaves both sides filled.

        A patient's slices all go to one side, and Testing takes whole patients until it has
        ``test_per_class`` slices, so a class with fewer training slices than one patient has
        could end up with none in Training.

        Raises:
            ValueError: If ``test_per_class`` is 0, no class has training slices, or a class asks
                for at least one but fewer than ``slices_per_patient`` training slices; the
                message says what to change.
        """
        if self.test_per_class < 1:
            raise ValueError(
                "test_per_class must be at least 1 for a dataset with a Testing split, got "
                f"{self.test_per_class}"
            )
        if sum(self.class_counts().values()) == 0:
            raise ValueError(f"per_class asks for no training slices at all: {self.per_class!r}")
        short = {c: n for c, n in self.class_counts().items() if 0 < n < self.slices_per_patient}
        if short:
            name, n = next(iter(short.items()))
            raise ValueError(
                f"per_class={n} ({name}) is below slices_per_patient={self.slices_per_patient}: "
                "each patient's slices go to one side of the split, so Training could get no "
                f"patient of that class. Ask for at least {self.slices_per_patient} training "
                "slices per class (--per-class), or fewer slices per patient."
            )

    def params(self) -> dict:
        """The fields as a JSON-ready dict (tuples as lists), as written to ``dataset.json``."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.loads(json.dumps(values, sort_keys=True))

    def folder_name(self) -> str:
        """The folder a set with this spec is written to (image size, counts and a digest).

        The digest covers every field and :data:`GENERATOR_VERSION`, so another spec, or the
        same spec drawn by another generator, never shares a folder.
        """
        keyed = {**self.params(), "generator": GENERATOR_VERSION}
        digest = hashlib.sha1(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:8]
        per_class = "mixed" if isinstance(self.per_class, dict) else self.per_class
        return f"synthetic-{self.image_size}px-{per_class}pc-{digest}"


def _check_per_class(per_class) -> int | dict[str, int]:
    if isinstance(per_class, Mapping):
        unknown = sorted(set(per_class) - set(CLASS_NAMES))
        if unknown or not per_class:
            raise ValueError(
                f"per_class keys must be class names {CLASS_NAMES}, got "
                f"{dict(per_class)!r} (unknown: {unknown})"
            )
        return {str(c): check_int(f"per_class[{c!r}]", n, minimum=0) for c, n in per_class.items()}
    return check_int("per_class", per_class, minimum=0)


def plane_names(plane) -> tuple[str, ...]:
    """Resolve a ``plane`` argument (one name or a sequence of them) to plane names.

    Raises:
        ValueError: If a name is not in ``anatomy.PLANES``, or the sequence is empty.
        TypeError: If ``plane`` is neither a string nor a sequence of strings.

    >>> plane_names("axial"), plane_names(["axial", "sagittal"])
    (('axial',), ('axial', 'sagittal'))
    """
    if isinstance(plane, str):
        names = (plane,)
    elif isinstance(plane, (list, tuple)) and all(isinstance(p, str) for p in plane):
        names = tuple(plane)
    else:
        raise TypeError(f"plane must be a name or a sequence of names, got {plane!r}")
    if not names or any(p not in PLANES for p in names):
        raise ValueError(f"plane must be one of {PLANES} or a sequence of them, got {plane!r}")
    return names
