import numpy as np
import pytest
import SimpleITK as sitk
from phantoms import make_head

from course_lib.preprocessing import dice
from course_lib.registration import apply_transform, register


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
