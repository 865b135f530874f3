"""course_lib: the library behind the "Brain Tumor MRI with Deep Learning" notebooks.

Start a notebook with ``profile = course_lib.setup()``.
"""

from course_lib.config import CLASS_NAMES, PROFILES, Profile, data_dir, get_profile, setup

__all__ = ["CLASS_NAMES", "PROFILES", "Profile", "data_dir", "get_profile", "setup"]
__version__ = "0.1.0"
