"""course_lib.synthetic_spec: one spec, its defaults, its rules and its folder key."""

from __future__ import annotations

import pytest

from course_lib import synthetic_spec
from course_lib.config import CLASS_NAMES, PROFILES
from course_lib.synthetic_spec import SyntheticSpec


def test_defaults_and_profile():
    spec = SyntheticSpec()
    assert (spec.image_size, spec.per_class, spec.test_per_class) == (128, 100, 25)
    assert (spec.sites, spec.contrast, spec.seed) == (3, "T1CE", 0)
    smoke = SyntheticSpec.from_profile("smoke")
    profile = PROFILES["smoke"]
    assert smoke.image_size == profile.image_size
    assert smoke.per_class == profile.samples_per_class
    assert smoke.test_per_class == profile.test_per_class
    assert smoke.slices_per_patient == profile.slices_per_patient
    assert SyntheticSpec.from_profile(profile, per_class=7).per_class == 7


def test_fields_are_normalised():
    spec = SyntheticSpec(sites=["site_A", "site_C"], contrast=["T1", "T2"], difficulty=1)
    assert spec.sites == ("site_A", "site_C")
    assert spec.contrast == ("T1", "T2")
    assert isinstance(spec.difficulty, float)
    imbalanced = SyntheticSpec(per_class={"glioma": 8, "notumor": 2})
    assert imbalanced.class_counts() == {"glioma": 8, "meningioma": 0, "notumor": 2, "pituitary": 0}
    assert imbalanced.total_counts()["meningioma"] == imbalanced.test_per_class


def test_spec_is_frozen_and_replace_checks():
    spec = SyntheticSpec()
    with pytest.raises(AttributeError):
        spec.per_class = 3
    assert spec.replace(per_class=3).per_class == 3
    with pytest.raises(TypeError, match="no field"):
        spec.replace(per_klass=3)
    with pytest.raises(ValueError, match="difficulty"):
        spec.replace(difficulty=9)


def test_folder_name_covers_every_field_and_the_generator(monkeypatch):
    spec = SyntheticSpec.from_profile("smoke")
    names = {
        spec.replace(**{field: value}).folder_name()
        for field, value in [
            ("per_class", 25),
            ("test_per_class", 9),
            ("slices_per_patient", 3),
            ("sites", 2),
            ("contrast", "T2"),
            ("difficulty", 1.5),
            ("duplicates", 0.1),
            ("seed", 1),
        ]
    }
    assert len(names | {spec.folder_name()}) == 9
    assert spec.folder_name() == SyntheticSpec.from_profile("smoke").folder_name()
    assert spec.folder_name().startswith("synthetic-64px-24pc-")
    before = spec.folder_name()
    monkeypatch.setattr(synthetic_spec, "GENERATOR_VERSION", synthetic_spec.GENERATOR_VERSION + 1)
    assert spec.folder_name() != before


def test_params_round_trip():
    spec = SyntheticSpec(per_class={"glioma": 4}, sites=("site_B",), contrast=("T1", "T2"))
    assert SyntheticSpec(**spec.params()) == spec


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"image_size": 8}, ValueError, "image_size"),
        ({"image_size": 64.0}, TypeError, "image_size"),
        ({"per_class": -1}, ValueError, "per_class"),
        ({"per_class": 2.5}, TypeError, "per_class"),
        ({"per_class": {"astrocytoma": 3}}, ValueError, "per_class keys"),
        ({"per_class": {"glioma": "3"}}, TypeError, r"per_class\['glioma'\]"),
        ({"per_class": 0, "test_per_class": 0}, ValueError, "no slices"),
        ({"test_per_class": -1}, ValueError, "test_per_class"),
        ({"slices_per_patient": 0}, ValueError, "slices_per_patient"),
        ({"sites": 6}, ValueError, "sites"),
        ({"sites": "site_A"}, TypeError, "sites"),
        ({"contrast": "DWI"}, ValueError, "contrast"),
        ({"difficulty": "hard"}, TypeError, "difficulty"),
        ({"duplicates": 2}, ValueError, "duplicates"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": True}, TypeError, "seed"),
    ],
)
def test_bad_fields(fields, error, match):
    with pytest.raises(error, match=match):
        SyntheticSpec(**fields)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"per_class": 2, "test_per_class": 50}, "per_class=2 .* below slices_per_patient=4"),
        ({"per_class": {"glioma": 8, "pituitary": 1}}, r"per_class=1 \(pituitary\)"),
        ({"test_per_class": 0}, "test_per_class must be at least 1"),
        ({"per_class": 0}, "no training slices"),
    ],
)
def test_check_split_refuses_a_split_that_would_leave_a_side_empty(fields, match):
    spec = SyntheticSpec(**fields)
    with pytest.raises(ValueError, match=match):
        spec.check_split()


def test_check_split_accepts_the_profiles_and_omitted_classes():
    for name in PROFILES:
        SyntheticSpec.from_profile(name).check_split()
    SyntheticSpec(per_class={c: 4 for c in CLASS_NAMES[:3]}).check_split()
