"""Every viewer also shows as a still PNG where no kernel runs (GitHub, nbviewer, HTML export)."""

import base64
import io

import ipywidgets as widgets
import numpy as np
import pytest
from IPython.core.formatters import DisplayFormatter
from PIL import Image

from course_lib.widgets import (
    Viewer,
    augmentation_explorer,
    skull_strip_explorer,
    volume_viewer,
)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _head() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:48, :48]
    r = np.hypot(yy - 23.5, xx - 23.5)
    image = np.where(r < 14, 0.6, 0.0) + np.where((r >= 17) & (r < 21), 0.9, 0.0)
    return image.astype(np.float32), r < 14


def _viewers():
    image, truth = _head()
    volume = np.random.default_rng(0).random((6, 32, 32)).astype(np.float32)
    return {
        "volume viewer": volume_viewer({"T1": volume}),
        "skull-strip explorer": skull_strip_explorer(image, truth),
        "augmentation explorer": augmentation_explorer((image * 255).astype(np.uint8), n=3),
    }


@pytest.mark.parametrize("name", ["volume viewer", "skull-strip explorer", "augmentation explorer"])
def test_bundle_holds_the_widget_view_and_a_png_of_the_first_state(name):
    viewer = _viewers()[name]
    assert isinstance(viewer, Viewer) and isinstance(viewer, widgets.VBox)
    data, metadata = viewer._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == viewer.model_id
    assert name in data["text/plain"] and "still image of its first state" in data["text/plain"]
    (picture,) = [c for c in viewer.children if isinstance(c, widgets.Image)]
    png = base64.b64decode(data["image/png"])
    assert png == bytes(picture.value)  # the picture the widget shows, as it is now
    size = Image.open(io.BytesIO(png)).size
    assert size == (int(picture.width), int(picture.height))
    assert (metadata["image/png"]["width"], metadata["image/png"]["height"]) == size


def test_ipython_formats_all_three_mime_types_and_the_png_follows_the_state():
    viewer = volume_viewer(np.random.default_rng(1).random((5, 32, 32)).astype(np.float32))
    formatter = DisplayFormatter()
    data, _ = formatter.format(viewer)
    assert {WIDGET_VIEW, "image/png", "text/plain"} <= set(data)
    assert Image.open(io.BytesIO(base64.b64decode(data["image/png"]))).size[1] == 400
    (slider,) = [w for w in viewer.children[0].children if isinstance(w, widgets.IntSlider)]
    slider.value = 0
    assert formatter.format(viewer)[0]["image/png"] != data["image/png"]


def test_a_closed_viewer_has_no_bundle():
    viewer = _viewers()["volume viewer"]
    viewer.close()
    assert viewer._repr_mimebundle_ is None
