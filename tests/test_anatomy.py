"""course_lib.anatomy: the procedural head and its tumours."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import anatomy


def test_sample_tumor_rejects_unknown_class():
    rng = np.random.default_rng(0)
    anat = anatomy.sample_anatomy(rng)
    with pytest.raises(ValueError, match="class_name"):
        anatomy.sample_tumor("lymphoma", rng, anat, z_center=0.0, difficulty=1.0)
    assert anatomy.sample_tumor("notumor", rng, anat, z_center=0.0, difficulty=1.0) is None
