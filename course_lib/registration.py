"""Image registration with SimpleITK: align a moving image onto a fixed one.

Images are numpy arrays ``(H, W)`` or ``(D, H, W)`` (slice axis first, as SimpleITK's
``GetArrayFromImage`` gives them) with unit pixel spacing. The similarity metric is Mattes mutual
information, which works across contrasts (a T2 onto a T1) because it only asks that intensities
be *predictable* from each other, not equal. Measure success with
:func:`course_lib.preprocessing.dice` on brain masks before and after.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from course_lib._validation import (
    check_choice,
    check_int,
    check_interval,
    check_number,
    check_type,
)
from course_lib.preprocessing import check_image, dice

__all__ = [
    "TRANSFORMS",
    "apply_transform",
    "recover_motion",
    "register",
    "rigid_motion",
    "transform_error",
]

#: Transform models :func:`register` accepts: ``rigid`` (rotation + translation), ``similarity``
#: (rigid + one isotropic scale) and ``affine`` (rigid + anisotropic scale and shear).
TRANSFORMS: tuple[str, ...] = ("rigid", "similarity", "affine")

_INTERPOLATIONS = ("linear", "nearest", "bspline")


def _to_sitk(array: np.ndarray):
    return sitk.GetImageFromArray(array.astype(np.float32))


def _interpolator(name: str):
    check_choice("interpolation", name, _INTERPOLATIONS)
    return {
        "linear": sitk.sitkLinear,
        "nearest": sitk.sitkNearestNeighbor,
        "bspline": sitk.sitkBSpline,
    }[name]


def register(
    moving: np.ndarray,
    fixed: np.ndarray,
    *,
    transform: str = "rigid",
    iterations: int = 300,
    bins: int = 32,
    sampling_fraction: float = 0.25,
    shrink_factors: tuple[int, ...] = (2, 1),
    seed: int = 0,
    threads: int | None = 1,
):
    """Register ``moving`` onto ``fixed`` by maximising Mattes mutual information.

    A multi-resolution (``shrink_factors``) regular-step gradient descent optimises the chosen
    transform, initialised by aligning the images' centres of mass.

    Check the result (e.g. brain-mask Dice): on thin 3D slabs, where out-of-plane motion moves
    anatomy out of the field of view, the optimiser can diverge (see
    ``benchmarks/preprocessing.py``); 2D slices usually register to within a pixel, even across
    contrasts, but not always (lesson 02 measures FLAIR onto T1 over many patients).

    Args:
        moving: ``(H, W)`` or ``(D, H, W)`` image to move, any real dtype.
        fixed: Image of the same dimensionality (shapes may differ) that stays put.
        transform: One of :data:`TRANSFORMS`.
        iterations: Optimiser iterations per resolution level.
        bins: Histogram bins of the mutual-information metric.
        sampling_fraction: Fraction of pixels sampled (randomly, with ``seed``) per iteration.
        shrink_factors: Downsampling per level, coarse to fine; smoothing sigmas follow them.
        seed: Seed of the metric's pixel sampling (a non-negative int).
        threads: Worker threads of the registration; ``1`` (default) keeps runs with the same
            seed repeatable up to floating-point rounding; ``None`` uses all cores (faster for
            3D, but multithreaded sums vary more between runs).

    Returns:
        ``(registered, tx)``: ``registered`` is ``moving`` resampled onto ``fixed``'s grid
        (``float32``, ``fixed``'s shape, linear interpolation, zeros outside); ``tx`` the fitted
        ``SimpleITK.Transform`` (maps fixed-space points to moving space), reusable with
        :func:`apply_transform` to move masks.

    Raises:
        TypeError: If an image is not a real numpy array, ``iterations``, ``bins``, ``seed``,
            ``threads`` or a shrink factor is not an int, or ``sampling_fraction`` not a number.
        ValueError: If dimensions differ, an image is constant, the transform is unknown or
            parameters are out of range (``seed < 0``, say).
    """
    mov = check_image(moving, "moving")
    fix = check_image(fixed, "fixed")
    if mov.ndim != fix.ndim:
        raise ValueError(f"moving is {mov.ndim}D but fixed is {fix.ndim}D; they must match")
    for name, data in (("moving", mov), ("fixed", fix)):
        if data.min() == data.max():
            raise ValueError(f"{name} is constant ({data.min():g}); there is nothing to align")
    check_choice("transform", transform, TRANSFORMS)
    sampling_fraction = check_interval("sampling_fraction", sampling_fraction, 0, 1, closed="right")
    iterations = check_int("iterations", iterations, minimum=1)
    bins = check_int("bins", bins, minimum=2)
    shrink_factors = [
        check_int(f"shrink_factors[{k}]", s, minimum=1) for k, s in enumerate(shrink_factors)
    ]
    if not shrink_factors:
        raise ValueError("shrink_factors must hold one int >= 1 per resolution level, got none")
    seed = check_int("seed", seed, minimum=0)
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    dim = fix.ndim
    fixed_img, moving_img = _to_sitk(fix), _to_sitk(mov)
    model = {
        ("rigid", 2): sitk.Euler2DTransform,
        ("rigid", 3): sitk.Euler3DTransform,
        ("similarity", 2): sitk.Similarity2DTransform,
        ("similarity", 3): sitk.Similarity3DTransform,
        ("affine", 2): lambda: sitk.AffineTransform(2),
        ("affine", 3): lambda: sitk.AffineTransform(3),
    }[(transform, dim)]()
    initial = sitk.CenteredTransformInitializer(
        fixed_img, moving_img, model, sitk.CenteredTransformInitializerFilter.MOMENTS
    )
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    # SimpleITK reads a seed of 0 as "seed from the wall clock": shift ours by one.
    method.SetMetricSamplingPercentage(sampling_fraction, seed + 1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0,
        minStep=1e-4,
        numberOfIterations=iterations,
        relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(shrink_factors)
    method.SetSmoothingSigmasPerLevel([max(s - 1, 0) / 2 for s in shrink_factors])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(initial, inPlace=False)
    if threads is not None:
        method.SetNumberOfThreads(threads)
    fitted = method.Execute(fixed_img, moving_img)
    return apply_transform(mov, fitted, fix), fitted


def apply_transform(
    image: np.ndarray, transform, reference: np.ndarray, *, interpolation: str = "linear"
) -> np.ndarray:
    """Resample ``image`` onto ``reference``'s grid through a SimpleITK transform.

    Use ``interpolation="nearest"`` for masks and label maps so no new labels appear.

    Args:
        image: ``(H, W)`` or ``(D, H, W)`` array; ``bool`` masks are accepted.
        transform: A ``SimpleITK.Transform`` (e.g. the second result of :func:`register`).
        reference: Array whose shape defines the output grid (same dimensionality).
        interpolation: ``"linear"``, ``"nearest"`` or ``"bspline"``.

    Returns:
        Array of ``reference``'s shape: ``bool`` for a ``bool`` input (nearest neighbour is
        then forced), else ``float32``. Pixels mapped from outside ``image`` are 0.

    Raises:
        TypeError: If ``transform`` is not a ``SimpleITK.Transform``.
        ValueError: If dimensions disagree or ``interpolation`` is unknown.

    >>> m = np.zeros((5, 5), bool); m[1, 1] = True
    >>> shift = sitk.TranslationTransform(2, (-1.0, -1.0))  # output(x) = input(x - 1)
    >>> np.argwhere(apply_transform(m, shift, m)).tolist()
    [[2, 2]]
    """
    check_type("transform", transform, sitk.Transform, "a SimpleITK.Transform")
    is_mask = isinstance(image, np.ndarray) and image.dtype == bool
    data = check_image(image.astype(np.uint8) if is_mask else image)
    check_type("reference", reference, np.ndarray, "a numpy array")
    ref = np.zeros(reference.shape, np.float32)  # only its grid (shape) is used
    if data.ndim != ref.ndim or transform.GetDimension() != ref.ndim:
        raise ValueError(
            f"image is {data.ndim}D, reference {ref.ndim}D and transform "
            f"{transform.GetDimension()}D; they must match"
        )
    interp = _interpolator("nearest" if is_mask else interpolation)
    out = sitk.Resample(_to_sitk(data), _to_sitk(ref), transform, interp, 0.0, sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(out)
    return array > 0.5 if is_mask else array.astype(np.float32)


def rigid_motion(shape, *, angle: float, shift=(0.0, 0.0)):
    """A 2D rigid motion about the centre of an ``(H, W)`` image, as a head moves in a scanner.

    Args:
        shape: ``(H, W)`` of the image it will move (its centre is the centre of rotation).
        angle: Rotation in degrees (positive turns the image content anticlockwise on screen).
        shift: ``(dx, dy)`` translation in pixels, along the columns and the rows.

    Returns:
        A ``SimpleITK.Euler2DTransform``; ``apply_transform(image, motion, image)`` moves the
        image (see :func:`transform_error` for how well :func:`register` undoes it).

    Raises:
        ValueError: If ``shape`` is not two sizes ``>= 1`` or ``shift`` not two numbers.
        TypeError: If ``angle`` or a shift is not a number.

    >>> motion = rigid_motion((5, 5), angle=90)
    >>> [round(v, 6) for v in motion.TransformPoint((4.0, 2.0))]
    [2.0, 4.0]
    """
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (H, W) with sizes >= 1, got {tuple(shape)}")
    angle = check_number("angle", angle)
    if len(shift) != 2:
        raise ValueError(f"shift must be two numbers (dx, dy) in pixels, got {shift!r}")
    dx, dy = (check_number(f"shift[{k}]", v) for k, v in enumerate(shift))
    center = ((shape[1] - 1) / 2, (shape[0] - 1) / 2)
    return sitk.Euler2DTransform(center, float(np.deg2rad(angle)), (float(dx), float(dy)))


def transform_error(fitted, motion, mask) -> float:
    """How far, in pixels, a fitted transform leaves the pixels of a mask from where they were.

    ``moving = apply_transform(fixed, motion, fixed)`` reads each pixel ``x`` of ``moving`` at
    ``motion(x)`` in ``fixed``; :func:`register` ``(moving, fixed)`` fits ``fitted``, which
    maps fixed-grid points into ``moving``. A perfect fit undoes the motion:
    ``motion(fitted(x)) == x``. This returns the mean of ``|motion(fitted(x)) - x|`` over the
    mask's pixels: 0 for a perfect fit; a rotation 1 degree off moves a pixel 60 pixels from
    the centre by about 1 pixel.

    Args:
        fitted: ``SimpleITK.Transform`` (e.g. the second result of :func:`register`).
        motion: The transform that made the moving image from the fixed one (same dimension).
        mask: ``(H, W)`` or ``(D, H, W)`` ``bool`` mask on the fixed image's grid (e.g. its
            brain mask); only its pixels are compared.

    Returns:
        The mean Euclidean distance, in pixels, as a float.

    Raises:
        TypeError: If a transform is not a ``SimpleITK.Transform`` or ``mask`` not a ``bool``
            array.
        ValueError: If the dimensions disagree or the mask is empty.

    >>> mask = np.ones((3, 3), bool)
    >>> motion = sitk.TranslationTransform(2, (2.0, 0.0))
    >>> transform_error(sitk.TranslationTransform(2, (-2.0, 0.0)), motion, mask)
    0.0
    >>> transform_error(sitk.TranslationTransform(2, (-1.0, 0.0)), motion, mask)
    1.0
    """
    check_type("fitted", fitted, sitk.Transform, "a SimpleITK.Transform")
    check_type("motion", motion, sitk.Transform, "a SimpleITK.Transform")
    check_type("mask", mask, np.ndarray, "a bool numpy array")
    if mask.dtype != bool:
        raise TypeError(f"mask must be a bool array, got dtype {mask.dtype}; use mask > 0")
    if not fitted.GetDimension() == motion.GetDimension() == mask.ndim:
        raise ValueError(
            f"fitted is {fitted.GetDimension()}D, motion {motion.GetDimension()}D and mask "
            f"{mask.ndim}D; they must match"
        )
    if not mask.any():
        raise ValueError("mask is empty; there are no pixels to compare")
    points = np.argwhere(mask)[:, ::-1].astype(float)  # (x, y[, z]) = (column, row[, slice])
    back = np.array([motion.TransformPoint(fitted.TransformPoint(tuple(p))) for p in points])
    return float(np.linalg.norm(back - points, axis=1).mean())


def recover_motion(image, fixed, mask, motion, **options) -> dict[str, float]:
    """Move ``image`` by a known motion, register it back onto ``fixed`` and score the result.

    The test of a registration when the truth is known: ``image`` and ``fixed`` are aligned
    (e.g. the FLAIR and T1 slices of one synthetic patient), ``motion`` moves ``image`` as a
    head moving between two sequences would, and :func:`register` ``(moved, fixed)`` tries to
    undo it.

    Args:
        image: ``(H, W)`` or ``(D, H, W)`` image aligned with ``fixed``, any real dtype.
        fixed: Image that stays put, same shape.
        mask: ``bool`` mask of ``fixed``'s shape (e.g. the brain mask), moved with the image.
        motion: ``SimpleITK.Transform`` that moves ``image`` (e.g. :func:`rigid_motion`).
        **options: Passed to :func:`register` (``transform``, ``seed``, ...).

    Returns:
        ``{"Dice before", "Dice after", "error before (px)", "error after (px)"}``: the Dice of
        the moved and of the registered-back mask against ``mask``, and
        :func:`transform_error` of no correction and of the fitted transform.

    Raises:
        TypeError: If ``motion`` is not a ``SimpleITK.Transform`` or ``mask`` is not ``bool``.
        ValueError: If the shapes differ, or as :func:`register`.
    """
    check_type("motion", motion, sitk.Transform, "a SimpleITK.Transform")
    check_type("mask", mask, np.ndarray, "a bool numpy array")
    if mask.dtype != bool:
        raise TypeError(f"mask must be a bool array, got dtype {mask.dtype}; use mask > 0")
    image, fixed = np.asarray(image), np.asarray(fixed)
    if not image.shape == fixed.shape == mask.shape:
        raise ValueError(
            f"image {image.shape}, fixed {fixed.shape} and mask {mask.shape} must have one shape"
        )
    moved, moved_mask = apply_transform(image, motion, image), apply_transform(mask, motion, mask)
    _, fitted = register(moved, fixed, **options)
    back = apply_transform(moved_mask, fitted, mask)
    identity = sitk.Transform(mask.ndim, sitk.sitkIdentity)
    return {
        "Dice before": dice(moved_mask, mask),
        "Dice after": dice(back, mask),
        "error before (px)": transform_error(identity, motion, mask),
        "error after (px)": transform_error(fitted, motion, mask),
    }
