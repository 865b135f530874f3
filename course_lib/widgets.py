"""Interactive viewers for the notebooks: thin ipywidgets layers over tested render functions.

Each viewer draws with a pure function that takes an ``Axes`` (testable without a display) and
shows the result as a PNG in an ``ipywidgets.Image``, so it works in JupyterLab, classic Jupyter
and Colab alike and never leaves a figure behind in the notebook. The image is shown at its
natural size (one PNG pixel per screen pixel, never stretched to the width of the notebook, which
would blur it), and the controls sit in one row above it.

Volumes are ``(D, H, W)`` arrays with the axes of :func:`course_lib.synthetic.generate_volume`:
``D`` runs front to back (anterior to posterior), ``H`` top to bottom (superior to inferior) and
``W`` across the head, from the patient's right to the patient's left: the radiological
convention, in which the patient's right is on the image's left, as if facing the patient (the
synthetic heads are symmetric, so the engine fixes the sides by this convention). The three
anatomical planes are then

============ ========================== =========================================
plane        fixes                      image shown (rows x columns)
============ ========================== =========================================
``coronal``  a ``D`` position           ``(H, W)``: top to bottom, left to right
``axial``    an ``H`` position          ``(D, W)``: front to back, left to right
``sagittal`` a ``W`` position           ``(H, D)``: top to bottom, front to back
============ ========================== =========================================
"""

from __future__ import annotations

import base64
import io
import struct
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_lib import anatomy, transforms
from course_lib import preprocessing as P
from course_lib._validation import check_choice, check_int, check_number
from course_lib.datasets.images import as_uint8
from course_lib.plotting import plot_slice

#: The anatomical planes, in the order the viewer offers them (the engine's, ``anatomy.PLANES``).
PLANES: tuple[str, ...] = anatomy.PLANES

#: Volume axis that each plane fixes (the slider of the viewer moves along it).
PLANE_AXIS: dict[str, int] = {"coronal": 0, "axial": 1, "sagittal": 2}

#: What the left and right edges of each plane's image show: the patient's right (R) and left
#: (L), or the front (anterior, A) and back (posterior, P) of the head.
PLANE_SIDES: dict[str, tuple[str, str]] = {
    "coronal": ("R", "L"),
    "axial": ("R", "L"),
    "sagittal": ("A", "P"),
}


def _check_volume(volume, name: str = "volume") -> np.ndarray:
    volume = np.asarray(volume)
    if volume.ndim != 3 or min(volume.shape) < 1:
        raise ValueError(f"{name} must be a (D, H, W) array, got shape {volume.shape}")
    if not np.issubdtype(volume.dtype, np.number) and volume.dtype != bool:
        raise TypeError(f"{name} must be numeric, got dtype {volume.dtype}")
    return volume


def _check_plane(plane) -> str:
    return check_choice("plane", plane, PLANES)


def _check_spacing(spacing) -> tuple[float, float, float]:
    try:
        values = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise TypeError(f"spacing must be three numbers (dz, dy, dx), got {spacing!r}") from None
    if len(values) != 3 or not all(v > 0 for v in values):
        raise ValueError(f"spacing must be three positive numbers (dz, dy, dx), got {spacing!r}")
    return values


def volume_slice(volume, index: int, plane: str = "coronal") -> np.ndarray:
    """Cut one plane out of a volume, oriented for display (superior and anterior up or left).

    Args:
        volume: ``(D, H, W)`` array (front to back, top to bottom, left to right); any dtype.
            Not modified.
        index: Position along the axis the plane fixes (``D`` for coronal, ``H`` for axial,
            ``W`` for sagittal); negative counts from the end as in NumPy.
        plane: ``"coronal"``, ``"axial"`` or ``"sagittal"``.

    Returns:
        A 2D array of the volume's dtype: ``(H, W)`` coronal, ``(D, W)`` axial, ``(H, D)``
        sagittal (a view where NumPy allows; copy it before writing into it).

    Raises:
        ValueError: If ``volume`` is not 3D, ``plane`` is unknown or ``index`` is out of range.
        TypeError: If ``index`` is not an int.

    >>> volume = np.arange(24).reshape(2, 3, 4)
    >>> volume_slice(volume, 1, "coronal").shape, volume_slice(volume, 0, "axial").shape
    ((3, 4), (2, 4))
    >>> volume_slice(volume, 3, "sagittal")
    array([[ 3, 15],
           [ 7, 19],
           [11, 23]])
    """
    volume = _check_volume(volume)
    plane = _check_plane(plane)
    axis = PLANE_AXIS[plane]
    index = check_int("index", index)
    size = volume.shape[axis]
    if not -size <= index < size:
        raise ValueError(
            f"index {index} is out of range for the {plane} plane: the volume has {size} "
            f"positions along axis {axis} (use 0..{size - 1})"
        )
    if plane == "coronal":
        return volume[index]
    if plane == "axial":
        return volume[:, index, :]
    return volume[:, :, index].T


def render_volume_slice(
    volume,
    index: int,
    *,
    plane: str = "coronal",
    ax: Axes | None = None,
    mask=None,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    title: str | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    sides: bool = True,
) -> Axes:
    """Draw one plane of a volume with the right proportions (what the viewer shows).

    Args:
        volume: ``(D, H, W)`` array, e.g. one contrast of
            :func:`course_lib.synthetic.generate_volume`; not modified.
        index: Position along the axis the plane fixes (see :func:`volume_slice`).
        plane: ``"coronal"``, ``"axial"`` or ``"sagittal"``.
        ax: Axes to draw on (default: the current axes).
        mask: Optional ``(D, H, W)`` integer mask (e.g. the tumour mask), drawn as contours.
        spacing: Voxel size ``(dz, dy, dx)`` along ``D``, ``H`` and ``W``, in any one unit; it
            sets the aspect ratio, so a volume with thick slices is not squashed.
        title: Axes title (default: ``"<plane> <index + 1>/<positions>"``).
        vmin: Lower end of the grey scale (``None``: the slice's minimum).
        vmax: Upper end of the grey scale (``None``: the slice's maximum).
        sides: Write the plane's :data:`PLANE_SIDES` by the image's left and right edges.

    Returns:
        The axes, holding one image (plus contours when ``mask`` is given), no ticks, and the
        two side labels as texts when ``sides``.

    Raises:
        ValueError: If ``volume`` is not 3D, ``mask`` has another shape, ``plane`` is unknown,
            ``index`` is out of range or ``spacing`` is not three positive numbers.
        TypeError: If ``index`` is not an int or ``spacing`` not numbers.
    """
    volume = _check_volume(volume)
    dz, dy, dx = _check_spacing(spacing)
    image = volume_slice(volume, index, plane)
    cut = None
    if mask is not None:
        mask = _check_volume(mask, "mask")
        if mask.shape != volume.shape:
            raise ValueError(f"mask shape {mask.shape} does not match volume shape {volume.shape}")
        cut = volume_slice(mask, index, plane)
    ax = plt.gca() if ax is None else ax
    size = volume.shape[PLANE_AXIS[plane]]
    if title is None:
        title = f"{plane} {index % size + 1}/{size}"
    labels = PLANE_SIDES[plane] if sides else None
    plot_slice(image, ax=ax, mask=cut, title=title, vmin=vmin, vmax=vmax, sides=labels)
    rows, cols = {"coronal": (dy, dx), "axial": (dz, dx), "sagittal": (dy, dz)}[plane]
    ax.set_aspect(rows / cols)
    return ax


def _figure_png(draw, figsize: tuple[float, float], dpi: int) -> bytes:
    """Run ``draw(ax)`` on a fresh off-screen figure and return it as PNG bytes."""
    return _grid_png(lambda axes: draw(axes[0, 0]), 1, 1, figsize, dpi)


def _png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels of PNG bytes, read from the header (the IHDR chunk)."""
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _picture() -> widgets.Image:
    """An empty PNG ``Image`` widget that keeps its natural size (see :func:`_show`)."""
    return widgets.Image(format="png", layout=widgets.Layout(object_fit="none", flex="0 0 auto"))


def _show(picture: widgets.Image, png: bytes) -> None:
    """Show PNG bytes in ``picture`` at their pixel size: one PNG pixel per screen pixel.

    Without a declared size the browser stretches the image to the width of the output area
    (about three times a viewer's pixels in JupyterLab), which blurs it and makes it taller than
    the window.
    """
    width, height = _png_size(png)
    with picture.hold_sync():
        picture.value = png
        picture.width, picture.height = str(width), str(height)
        picture.layout.width, picture.layout.height = f"{width}px", f"{height}px"


class Viewer(widgets.VBox):
    """A ``VBox`` of controls above a picture that also shows as a still image without a kernel.

    A live notebook (JupyterLab, Jupyter, Colab) draws the widget and ignores the rest. A static
    page (GitHub, nbviewer, an HTML export) cannot run a widget: there a plain ``VBox`` shows
    only the text ``VBox(...)``. This one adds to the display bundle an ``image/png`` of what
    the picture shows when the cell runs (the viewer's first state) and a ``text/plain`` that
    says so; a static page shows the PNG.

    Args:
        controls: The widgets of the control row, in order.
        picture: The ``ipywidgets.Image`` (format ``"png"``) the viewer draws into.
        name: What the viewer is, for the ``text/plain`` line (e.g. ``"volume viewer"``).
    """

    def __init__(self, controls: Sequence[widgets.Widget], picture: widgets.Image, name: str):
        row = widgets.HBox(
            list(controls), layout=widgets.Layout(flex_flow="row nowrap", align_items="center")
        )
        super().__init__([row, picture], layout=widgets.Layout(align_items="flex-start"))
        self.picture = picture
        self.name = name

    def _repr_mimebundle_(self, **kwargs):
        """The widget view plus ``image/png`` (base64) and ``text/plain`` of the current picture.

        Returns:
            ``(data, metadata)``: ``data`` holds ``application/vnd.jupyter.widget-view+json``
            (from ``ipywidgets``), ``image/png`` and ``text/plain``; ``metadata["image/png"]``
            the PNG's ``width`` and ``height`` in pixels.
        """
        data = super()._repr_mimebundle_(**kwargs) or {}
        png = bytes(self.picture.value)
        metadata = {}
        data["text/plain"] = (
            f"An interactive {self.name}; without a live notebook, a still image of its first "
            "state."
        )
        if png.startswith(b"\x89PNG"):
            data["image/png"] = base64.b64encode(png).decode("ascii")
            width, height = _png_size(png)
            metadata["image/png"] = {"width": width, "height": height}
        return data, metadata


def _viewer(controls: Sequence[widgets.Widget], picture: widgets.Image, name: str) -> Viewer:
    """The controls in one row (never wrapped) above the picture, both left-aligned."""
    return Viewer(controls, picture, name)


def _check_figure_size(size, dpi) -> None:
    check_number("size", size, above=0)
    check_int("dpi", dpi, minimum=10)


def volume_viewer(
    volumes,
    *,
    mask=None,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    plane: str = "coronal",
    size: float = 4.0,
    dpi: int = 100,
):
    """Scroll through a volume in any plane and switch between its contrasts.

    A dropdown picks the contrast, toggle buttons the plane, a slider the position; each change
    redraws the slice with :func:`render_volume_slice` into an ``ipywidgets.Image``, shown at
    its pixel size (``size * dpi`` pixels high: 400 at the defaults).

    Args:
        volumes: One ``(D, H, W)`` array, or ``{contrast name: (D, H, W) array}`` of one shape
            (e.g. ``generate_volume(...)["images"]``). Not modified.
        mask: Optional ``(D, H, W)`` integer mask drawn as contours (e.g. the tumour mask).
        spacing: Voxel size ``(dz, dy, dx)``, see :func:`render_volume_slice`.
        plane: The plane shown first.
        size: Height of the drawn figure in inches.
        dpi: Pixels per inch of the drawn figure (and so of the screen: the image is not
            scaled).

    Returns:
        A :class:`Viewer` (an ``ipywidgets.VBox``): one row of controls (``Dropdown``,
        ``ToggleButtons``, ``IntSlider``) above an ``Image``. Display it as the last line of a
        cell; a static page shows a still image of its first state.

    Raises:
        ValueError: If there is no volume, the volumes differ in shape or are not 3D, ``mask``
            does not match, or ``plane``, ``spacing``, ``size`` or ``dpi`` is invalid.
        TypeError: If ``volumes`` is neither an array nor a mapping of arrays, ``size`` is not a
            number or ``dpi`` not an int.
    """
    if isinstance(volumes, Mapping):
        named = {str(k): _check_volume(v, f"volumes[{k!r}]") for k, v in volumes.items()}
    elif isinstance(volumes, (np.ndarray, list, tuple)):
        named = {"volume": _check_volume(volumes)}
    else:
        raise TypeError(
            f"volumes must be a (D, H, W) array or a dict of them, got {type(volumes).__name__}"
        )
    if not named:
        raise ValueError("volumes is empty; pass at least one (D, H, W) array")
    shapes = {v.shape for v in named.values()}
    if len(shapes) != 1:
        raise ValueError(f"all volumes must have one shape, got {sorted(shapes)}")
    shape = shapes.pop()
    if mask is not None:
        mask = _check_volume(mask, "mask")
        if mask.shape != shape:
            raise ValueError(f"mask shape {mask.shape} does not match volume shape {shape}")
    _check_plane(plane)
    dz, dy, dx = _check_spacing(spacing)
    _check_figure_size(size, dpi)

    def extent(which: str) -> float:
        """Width over height of the drawn slice, in physical units."""
        d, h, w = shape
        rows, cols = {"coronal": (h * dy, w * dx), "axial": (d * dz, w * dx)}.get(
            which, (h * dy, d * dz)
        )
        return cols / rows

    short = {"description_width": "initial"}
    contrast = widgets.Dropdown(
        options=list(named), description="contrast", style=short, layout={"width": "170px"}
    )
    planes = widgets.ToggleButtons(
        options=list(PLANES),
        value=plane,
        description="plane",
        style={**short, "button_width": "72px"},  # three buttons side by side, not wrapped
    )
    axis_size = shape[PLANE_AXIS[plane]]
    position = widgets.IntSlider(
        value=axis_size // 2,
        min=0,
        max=axis_size - 1,
        description="slice",
        continuous_update=True,
        style=short,
        layout={"width": "300px"},
    )
    image = _picture()

    def redraw(*_) -> None:
        which = planes.value
        figsize = (min(3 * size, max(size * extent(which), size / 3)) + 0.2, size)
        png = _figure_png(
            lambda ax: render_volume_slice(
                named[contrast.value],
                position.value,
                plane=which,
                ax=ax,
                mask=mask,
                spacing=(dz, dy, dx),
                title=f"{contrast.value} · {which} {position.value + 1}/{position.max + 1}",
            ),
            figsize,
            dpi,
        )
        _show(image, png)

    def change_plane(change) -> None:
        new_size = shape[PLANE_AXIS[change["new"]]]
        with position.hold_trait_notifications():
            position.max = new_size - 1
            position.value = new_size // 2
        redraw()

    planes.observe(change_plane, names="value")
    contrast.observe(redraw, names="value")
    position.observe(redraw, names="value")
    redraw()
    return _viewer([contrast, planes, position], image, "volume viewer")


# ----------------------------------------------------------------------------- lesson 02 and 03


def _grid_png(draw, nrows: int, ncols: int, figsize: tuple[float, float], dpi: int) -> bytes:
    """Run ``draw(axes)`` on a fresh off-screen ``nrows x ncols`` figure; return PNG bytes.

    The PNG is ``figsize * dpi`` pixels (no tight bounding box), the figure never reaches pyplot.
    """
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    draw(np.asarray(fig.subplots(nrows, ncols, squeeze=False)))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _check_slice(image, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or min(image.shape) < 8:
        raise ValueError(f"{name} must be a 2D (H, W) slice of at least 8x8, got {image.shape}")
    if image.dtype == bool or not np.issubdtype(image.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, got dtype {image.dtype}")
    return image


def _check_truth(truth, shape: tuple[int, ...]) -> np.ndarray | None:
    if truth is None:
        return None
    truth = np.asarray(truth)
    if truth.dtype != bool:
        raise TypeError(f"truth must be a bool mask, got dtype {truth.dtype}; use truth > 0")
    if truth.shape != tuple(shape):
        raise ValueError(f"truth has shape {truth.shape} but image has shape {tuple(shape)}")
    return truth


def _check_axes(axes, count: int) -> np.ndarray:
    if axes is None:
        _, axes = plt.subplots(1, count, figsize=(3.2 * count, 3.4), squeeze=False)
    flat = np.asarray(axes, dtype=object).ravel()
    if flat.size < count:
        raise ValueError(f"need {count} axes, got {flat.size}")
    return flat


def render_skull_strip(
    image,
    *,
    truth=None,
    erosion_radius: int | None = None,
    smoothing: float = 1.0,
    threshold: float | None = None,
    axes=None,
) -> np.ndarray:
    """Run :func:`course_lib.preprocessing.strip_skull` and draw what it found.

    Left panel: the slice with the estimated brain outline (red) and, when given, the true one
    (cyan, dashed), titled with the Dice overlap; right panel: the slice with everything outside
    the estimated mask set to 0 (what a skull-stripped input looks like).

    Args:
        image: ``(H, W)`` slice, any real dtype; not modified.
        truth: Optional ``(H, W)`` ``bool`` true brain mask (the synthetic ground truth).
        erosion_radius: Passed to ``strip_skull`` (``None``: its size-dependent default).
        smoothing: Passed to ``strip_skull``.
        threshold: Passed to ``strip_skull`` (``None``: Otsu).
        axes: At least two axes to draw on (default: a new 1 x 2 figure).

    Returns:
        The flat array of the axes used; each holds one image, the first also the contours.

    Raises:
        ValueError: If ``image`` is not a 2D slice of at least 8x8, ``truth`` does not match it,
            or there are fewer than two axes (and as ``strip_skull`` for its parameters).
        TypeError: If ``image`` is not numeric or ``truth`` is not ``bool``.
    """
    image = _check_slice(image)
    truth = _check_truth(truth, image.shape)
    axes = _check_axes(axes, 2)
    mask = P.strip_skull(
        image, threshold=threshold, smoothing=smoothing, erosion_radius=erosion_radius
    )
    radius = max(1, round(min(image.shape) / 22)) if erosion_radius is None else erosion_radius
    title = f"erosion r={radius}"
    if truth is not None:
        title = f"Dice {P.dice(mask, truth):.3f} ({title})"
    plot_slice(image, ax=axes[0], title=title)
    if mask.any():
        axes[0].contour(mask.astype(float), levels=[0.5], colors=["tab:red"], linewidths=1.2)
    if truth is not None:
        axes[0].contour(
            truth.astype(float), levels=[0.5], colors=["cyan"], linewidths=1.0, linestyles="--"
        )
    plot_slice(P.apply_mask(image, mask), ax=axes[1], title="skull stripped")
    return axes


def skull_strip_explorer(image, truth=None, *, size: float = 3.5, dpi: int = 100):
    """Change the skull stripper's erosion radius and smoothing and see the mask update.

    Args:
        image: ``(H, W)`` slice, any real dtype; not modified.
        truth: Optional ``(H, W)`` ``bool`` true brain mask, for the Dice in the title.
        size: Height of the drawn figure in inches (its width is twice that).
        dpi: Pixels per inch of the drawn figure; it is shown unscaled (350 pixels high at the
            defaults).

    Returns:
        A :class:`Viewer` (an ``ipywidgets.VBox``): one row of two sliders (``erosion``,
        ``smoothing``) above an ``Image`` drawn by :func:`render_skull_strip`. Display it as the
        last line of a cell; a static page shows a still image of its first state.

    Raises:
        ValueError: If ``image``/``truth`` are invalid (see :func:`render_skull_strip`) or
            ``size``/``dpi`` are out of range.
        TypeError: If ``size`` is not a number or ``dpi`` not an int.
    """
    image = _check_slice(image)
    _check_figure_size(size, dpi)
    truth = _check_truth(truth, image.shape)
    default = max(1, round(min(image.shape) / 22))
    erosion = widgets.IntSlider(
        value=default, min=0, max=max(2 * default + 2, 4), description="erosion r"
    )
    smoothing = widgets.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.25, description="smoothing")
    picture = _picture()

    def redraw(*_) -> None:
        png = _grid_png(
            lambda axes: render_skull_strip(
                image,
                truth=truth,
                erosion_radius=erosion.value,
                smoothing=smoothing.value,
                axes=axes,
            ),
            1,
            2,
            (2 * size, size),
            dpi,
        )
        _show(picture, png)

    erosion.observe(redraw, names="value")
    smoothing.observe(redraw, names="value")
    redraw()
    return _viewer([erosion, smoothing], picture, "skull-strip explorer")


def augmented_versions(
    image, *, strength: str = "medium", seed: int = 0, n: int = 7, image_size: int | None = None
) -> np.ndarray:
    """Pass one slice ``n`` times through :func:`course_lib.transforms.train_transform`.

    Args:
        image: ``(H, W)`` slice: ``uint8``, or floats in ``[0, 1]``; not modified.
        strength: One of :data:`course_lib.transforms.STRENGTHS`.
        seed: Seed of the pipeline: the same seed gives the same ``n`` versions.
        n: Number of augmented versions, ``>= 1``.
        image_size: Output side (default: the image's height).

    Returns:
        ``(n, image_size, image_size)`` ``float32`` in ``[0, 1]``: the pipeline's normalised
        output mapped back to display intensities (``x * STD + MEAN``, clipped).

    Raises:
        ValueError: If ``n`` < 1, the image is not 2D or ``strength`` is unknown.
        TypeError: If ``n`` is not an int.

    >>> augmented_versions(np.zeros((16, 16), np.uint8), n=2).shape
    (2, 16, 16)
    """
    image = as_uint8(_check_slice(image))
    n = check_int("n", n, minimum=1)
    size = image.shape[0] if image_size is None else image_size
    pipeline = transforms.train_transform(size, seed=seed, strength=strength)
    out = np.stack([pipeline(image=image.copy())["image"] for _ in range(n)])
    return np.clip(out * transforms.STD + transforms.MEAN, 0, 1).astype(np.float32)


def render_augmentations(
    image, *, strength: str = "medium", seed: int = 0, n: int = 7, axes=None
) -> np.ndarray:
    """Draw a slice and ``n`` augmented versions of it (see :func:`augmented_versions`).

    Args:
        image: ``(H, W)`` slice: ``uint8``, or floats in ``[0, 1]``; not modified.
        strength: One of :data:`course_lib.transforms.STRENGTHS`.
        seed: Seed of the pipeline.
        n: Number of augmented versions.
        axes: At least ``n + 1`` axes (default: a new ``2 x ceil((n + 1) / 2)`` figure).

    Returns:
        The flat array of axes: the first titled ``"original"``, the next ``"<strength> #k"``;
        axes beyond ``n + 1`` are switched off.

    Raises:
        ValueError: As :func:`augmented_versions`, or if there are too few axes.
    """
    versions = augmented_versions(image, strength=strength, seed=seed, n=n)
    original = as_uint8(np.asarray(image)).astype(np.float32) / 255
    if axes is None:
        ncols = -(-(n + 1) // 2)
        _, axes = plt.subplots(2, ncols, figsize=(2.2 * ncols, 4.6), squeeze=False)
    flat = _check_axes(axes, n + 1)
    plot_slice(original, ax=flat[0], title="original", vmin=0, vmax=1)
    for k, version in enumerate(versions, start=1):
        plot_slice(version, ax=flat[k], title=f"{strength} #{k}", vmin=0, vmax=1)
    for ax in flat[n + 1 :]:
        ax.set_axis_off()
    return flat


def augmentation_explorer(image, *, n: int = 7, size: float = 2.2, dpi: int = 100):
    """Pick an augmentation strength and a seed, and see ``n`` augmented versions of a slice.

    Args:
        image: ``(H, W)`` slice: ``uint8``, or floats in ``[0, 1]``; not modified.
        n: Augmented versions shown (plus the original), on two rows.
        size: Inches per panel.
        dpi: Pixels per inch of the drawn figure; it is shown unscaled (470 pixels high at the
            defaults).

    Returns:
        A :class:`Viewer` (an ``ipywidgets.VBox``): one row with a ``Dropdown`` (strength) and
        an ``IntSlider`` (seed) above an ``Image`` drawn by :func:`render_augmentations`; a
        static page shows a still image of its first state.

    Raises:
        ValueError: If ``image`` or ``n`` is invalid or ``size``/``dpi`` out of range.
        TypeError: If ``n`` or ``dpi`` is not an int, or ``size`` not a number.
    """
    image = _check_slice(image)
    n = check_int("n", n, minimum=1)
    _check_figure_size(size, dpi)
    strength = widgets.Dropdown(
        options=list(transforms.STRENGTHS), value="medium", description="strength"
    )
    seed = widgets.IntSlider(value=0, min=0, max=99, description="seed")
    picture = _picture()
    ncols = -(-(n + 1) // 2)

    def redraw(*_) -> None:
        png = _grid_png(
            lambda axes: render_augmentations(
                image, strength=strength.value, seed=seed.value, n=n, axes=axes
            ),
            2,
            ncols,
            (size * ncols, 2 * size + 0.3),
            dpi,
        )
        _show(picture, png)

    strength.observe(redraw, names="value")
    seed.observe(redraw, names="value")
    redraw()
    return _viewer([strength, seed], picture, "augmentation explorer")
