import albumentations as A
import numpy as np
import pytest
from phantoms import make_head

from course_lib import preprocessing as P
from course_lib import transforms as T


@pytest.fixture
def slice_u8():
    img, _ = make_head(48, seed=1)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize("strength", T.STRENGTHS)
@pytest.mark.parametrize("shape", [(48, 48), (40, 56)])
def test_train_transform_shapes_and_dtype(strength, shape, rng):
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    before = image.copy()
    out = T.train_transform(32, seed=0, strength=strength)(image=image)["image"]
    assert out.shape == (32, 32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(image, before)


def test_eval_transform_is_resize_then_documented_normalisation(slice_u8):
    out = T.eval_transform(48)(image=slice_u8)["image"]
    np.testing.assert_allclose(out, (slice_u8 / 255.0 - T.MEAN) / T.STD, rtol=1e-5, atol=1e-5)
    again = T.eval_transform(48)(image=slice_u8)["image"]
    np.testing.assert_array_equal(out, again)


def test_strength_none_equals_eval(slice_u8):
    none = T.train_transform(32, seed=5, strength="none")(image=slice_u8)["image"]
    np.testing.assert_array_equal(none, T.eval_transform(32)(image=slice_u8)["image"])


def test_train_transform_is_seeded(slice_u8):
    def run(seed):
        pipeline = T.train_transform(32, seed=seed, strength="strong")
        return [pipeline(image=slice_u8)["image"] for _ in range(3)]

    first, again, other = run(1), run(1), run(2)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert not np.array_equal(first[0], first[1])  # successive calls draw new augmentations


def test_train_transform_never_flips_vertically():
    # A bright block in the top rows only: a vertical flip would move it to the bottom half.
    image = np.zeros((64, 64), np.uint8)
    image[4:14, 20:44] = 255
    pipeline = T.train_transform(64, seed=0, strength="strong")
    assert not any(isinstance(t, A.VerticalFlip | A.Transpose) for t in pipeline.transforms)
    for _ in range(40):
        out = pipeline(image=image)["image"]
        # Centre minus sides, per row: cancels smooth brightness and bias-field gradients.
        contrast = (
            out[:, 24:40].mean(axis=1) - (out[:, :8].mean(axis=1) + out[:, -8:].mean(axis=1)) / 2
        )
        assert np.argmax(contrast) < 24  # the block's rows stay at the top


def test_train_transform_does_flip_horizontally():
    image = np.zeros((32, 32), np.uint8)
    image[:, :6] = 255
    pipeline = A.Compose(
        [t for t in T.train_transform(32, seed=0).transforms if isinstance(t, A.HorizontalFlip)],
        seed=0,
    )
    flipped = [pipeline(image=image)["image"][:, -1].mean() > 128 for _ in range(20)]
    assert any(flipped)
    assert not all(flipped)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"strength": "extreme"}, ValueError, "none.*light.*medium.*strong"),
        ({"image_size": 4}, ValueError, "image_size"),
        ({"image_size": 32.0}, TypeError, "image_size"),
    ],
)
def test_train_transform_rejects_bad_arguments(kwargs, error, match):
    args = {"image_size": 32} | kwargs
    with pytest.raises(error, match=match):
        T.train_transform(args.pop("image_size"), **args)


def test_eval_transform_rejects_bad_size():
    with pytest.raises(TypeError, match="image_size"):
        T.eval_transform(True)


# --------------------------------------------------------------------------- wrappers


def _apply(transform, image):
    return A.Compose([transform], seed=0)(image=image)["image"]


def test_skull_strip_wrapper_equals_functions(slice_u8):
    out = _apply(T.SkullStrip(erosion_radius=2), slice_u8)
    expected = P.apply_mask(slice_u8, P.strip_skull(slice_u8, erosion_radius=2))
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8


def test_percentile_clip_wrapper_equals_function(slice_u8):
    out = _apply(T.PercentileClip(5, 95), slice_u8)
    expected = np.rint(P.clip_percentiles(slice_u8, 5, 95)).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    as_float = slice_u8.astype(np.float32)
    np.testing.assert_array_equal(
        _apply(T.PercentileClip(5, 95), as_float), P.clip_percentiles(as_float, 5, 95)
    )


def test_zscore_wrapper_equals_function(slice_u8):
    np.testing.assert_array_equal(_apply(T.ZScore(), slice_u8), P.normalize_zscore(slice_u8))
    brain = P.strip_skull(slice_u8)
    np.testing.assert_array_equal(
        _apply(T.ZScore(brain_only=True), slice_u8), P.normalize_zscore(slice_u8, brain)
    )
    constant = np.full((8, 8), 7, np.uint8)
    np.testing.assert_array_equal(_apply(T.ZScore(brain_only=True), constant), np.zeros((8, 8)))


def test_random_bias_field_wrapper_equals_function(slice_u8):
    transform = T.RandomBiasField(strength=0.4, p=1.0)
    out = transform.apply(slice_u8.astype(np.float32), field_seed=7)
    field = P.simulate_bias_field(slice_u8.shape, strength=0.4, seed=7)
    np.testing.assert_array_equal(out, P.apply_bias_field(slice_u8, field))
    a = _apply(T.RandomBiasField(p=1.0), slice_u8)
    b = _apply(T.RandomBiasField(p=1.0), slice_u8)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8
    assert not np.array_equal(a, slice_u8)


def test_n4_wrapper_equals_function(slice_u8):
    as_float = slice_u8.astype(np.float32) + 1
    expected, _ = P.correct_bias_field(as_float, shrink_factor=2)
    np.testing.assert_array_equal(_apply(T.N4Correct(shrink_factor=2), as_float), expected)


def test_wrappers_show_their_arguments():
    assert "strength=0.2" in repr(T.RandomBiasField(strength=0.2))
    assert "low=2" in repr(T.PercentileClip(low=2))
