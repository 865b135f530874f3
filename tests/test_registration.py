import numpy as np
import pytest
import SimpleITK as sitk
from phantoms import make_head

from course_lib.preprocessing import dice
from course_lib.registration import (
    apply_transform,
    recover_motion,
    register,
    rigid_motion,
    transform_error,
)


def _moved(image, mask, tx):
    return apply_transform(image, tx, image), apply_transform(mask, tx, mask)


@pytest.mark.parametrize("transform", ["rigid", "similarity", "affine"])
def test_register_2d_recovers_a_rigid_motion(transform):
    img, brain = make_head(64)
    tx = sitk.Euler2DTransform((31.5, 31.5), 0.15, (3.0, -2.0))
    moving, moving_brain = _moved(img, brain, tx)
    registered, fitted = register(moving, img, transform=transform)
    assert registered.shape == img.shape and registered.dtype == np.float32
    before = dice(moving_brain, brain)
    after = dice(apply_transform(moving_brain, fitted, brain), brain)
    assert before < 0.9
    assert after > 0.95


def test_register_affine_recovers_scaling_that_rigid_cannot():
    img, brain = make_head(64)
    tx = sitk.AffineTransform(2)
    tx.SetCenter((31.5, 31.5))
    tx.SetMatrix((1.15, 0.0, 0.0, 0.9))
    moving, moving_brain = _moved(img, brain, tx)
    scores = {}
    for name in ("rigid", "affine"):
        _, fitted = register(moving, img, transform=name)
        scores[name] = dice(apply_transform(moving_brain, fitted, brain), brain)
    assert scores["affine"] > 0.95
    assert scores["affine"] > scores["rigid"] + 0.02


def test_register_3d_rigid():
    vol, brain = make_head(size=32, depth=24)
    tx = sitk.Euler3DTransform((15.5, 15.5, 11.5), 0.1, 0.0, 0.1, (2.0, -1.0, 1.0))
    moving, moving_brain = _moved(vol, brain, tx)
    _, fitted = register(moving, vol, iterations=100)
    assert (
        dice(apply_transform(moving_brain, fitted, brain), brain) > 0.95 > dice(moving_brain, brain)
    )


def test_register_is_pure_and_repeatable():
    img, _ = make_head(32)
    moving = np.roll(img, 2, axis=1)
    before = moving.copy()
    a, _ = register(moving, img)
    b, _ = register(moving, img)
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_array_equal(moving, before)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"transform": "bspline"}, "transform"),
        ({"sampling_fraction": 0.0}, "sampling_fraction"),
        ({"iterations": 0}, "iterations"),
        ({"bins": 1}, "bins"),
        ({"shrink_factors": ()}, "shrink_factors"),
        ({"shrink_factors": (2, 0)}, r"shrink_factors\[1\]"),
        ({"threads": 0}, "threads"),
        ({"seed": -1}, "seed"),  # an int, but not an allowed one: ValueError
    ],
)
def test_register_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        register(np.eye(8), np.eye(8), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threads": 1.5}, "threads"),
        ({"seed": 0.0}, "seed"),
        ({"iterations": 10.0}, "iterations"),
        ({"bins": True}, "bins"),
        ({"shrink_factors": (2.0, 1)}, r"shrink_factors\[0\]"),
        ({"sampling_fraction": "all"}, "sampling_fraction"),
    ],
)
def test_register_rejects_non_int_threads_and_seed(kwargs, match):
    with pytest.raises(TypeError, match=match):
        register(np.eye(8), np.eye(8), **kwargs)


def test_register_rejects_mixed_dimensions_and_constant_images():
    with pytest.raises(ValueError, match="2D but fixed is 3D"):
        register(np.eye(8), np.ones((4, 8, 8)))
    with pytest.raises(ValueError, match="fixed is constant"):
        register(np.eye(8), np.ones((8, 8)))


def test_apply_transform_moves_masks_with_nearest_neighbour():
    mask = np.zeros((9, 9), bool)
    mask[2:5, 2:5] = True
    out = apply_transform(mask, sitk.TranslationTransform(2, (-2.0, -1.0)), mask)
    assert out.dtype == bool
    expected = np.zeros((9, 9), bool)
    expected[3:6, 4:7] = True
    np.testing.assert_array_equal(out, expected)
    img = apply_transform(mask.astype(float), sitk.Euler2DTransform(), np.zeros((4, 4)))
    assert img.shape == (4, 4) and img.dtype == np.float32


def test_apply_transform_errors():
    with pytest.raises(TypeError, match="SimpleITK.Transform"):
        apply_transform(np.eye(4), np.eye(3), np.eye(4))
    with pytest.raises(TypeError, match="reference"):
        apply_transform(np.eye(4), sitk.Euler2DTransform(), [[0.0]])
    with pytest.raises(ValueError, match="must match"):
        apply_transform(np.eye(4), sitk.Euler3DTransform(), np.eye(4))
    with pytest.raises(ValueError, match="interpolation"):
        apply_transform(np.eye(4), sitk.Euler2DTransform(), np.eye(4), interpolation="cubic")


def test_rigid_motion_turns_about_the_centre_and_shifts():
    image = np.zeros((5, 5))
    image[4, 2] = 1.0  # below the centre
    turned = apply_transform(image, rigid_motion((5, 5), angle=90), image)
    assert np.argwhere(turned > 0.5).tolist() == [[2, 4]]  # right of it: anticlockwise
    shifted = apply_transform(image, rigid_motion((5, 5), angle=0, shift=(-1.0, 0.0)), image)
    assert np.argwhere(shifted > 0.5).tolist() == [[4, 3]]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"shape": (5,), "angle": 1}, ValueError, "shape must be"),
        ({"shape": (5, 5), "angle": "1"}, TypeError, "angle"),
        ({"shape": (5, 5), "angle": 1, "shift": (1.0,)}, ValueError, "shift must be two"),
        ({"shape": (5, 5), "angle": 1, "shift": (1.0, None)}, TypeError, "shift"),
    ],
)
def test_rigid_motion_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        rigid_motion(kwargs.pop("shape"), **kwargs)


def test_transform_error_is_zero_for_the_truth_and_grows_with_the_miss():
    img, brain = make_head(64)
    motion = rigid_motion(img.shape, angle=8, shift=(3.0, -2.0))
    assert transform_error(motion.GetInverse(), motion, brain) == pytest.approx(0.0, abs=1e-9)
    assert transform_error(sitk.Euler2DTransform(), motion, brain) > 3.0  # no correction
    moving = apply_transform(img, motion, img)
    _, fitted = register(moving, img)
    assert transform_error(fitted, motion, brain) < 1.5  # recovered to about a pixel


def test_transform_error_rejects_bad_arguments():
    tx = sitk.TranslationTransform(2)
    mask = np.ones((4, 4), bool)
    with pytest.raises(TypeError, match="fitted must be"):
        transform_error("rigid", tx, mask)
    with pytest.raises(TypeError, match="motion must be"):
        transform_error(tx, None, mask)
    with pytest.raises(TypeError, match="mask must be a bool numpy array"):
        transform_error(tx, tx, [[True]])
    with pytest.raises(TypeError, match="mask must be a bool array"):
        transform_error(tx, tx, mask.astype(int))
    with pytest.raises(ValueError, match="they must match"):
        transform_error(tx, sitk.TranslationTransform(3), mask)
    with pytest.raises(ValueError, match="mask is empty"):
        transform_error(tx, tx, ~mask)


def test_recover_motion_scores_a_known_motion_before_and_after():
    img, brain = make_head(64)
    motion = rigid_motion(img.shape, angle=8, shift=(3.0, -2.0))
    scores = recover_motion(img, img, brain, motion, seed=1)
    assert list(scores) == ["Dice before", "Dice after", "error before (px)", "error after (px)"]
    assert scores["Dice before"] < 0.95 < scores["Dice after"]
    assert scores["error before (px)"] > 3.0 > 1.5 > scores["error after (px)"]


def test_recover_motion_rejects_bad_arguments():
    img, brain = make_head(32)
    motion = rigid_motion(img.shape, angle=5)
    with pytest.raises(TypeError, match="motion must be"):
        recover_motion(img, img, brain, "rigid")
    with pytest.raises(TypeError, match="mask must be a bool array"):
        recover_motion(img, img, brain.astype(int), motion)
    with pytest.raises(ValueError, match="must have one shape"):
        recover_motion(img, img[:16], brain, motion)
