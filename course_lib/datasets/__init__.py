"""Datasets on disk: image loading, readers, the audit, downloads and the synthetic set.

One module per job, each importable on its own:

- :mod:`~course_lib.datasets.images`: which files are images (hidden ones skipped), loading any
  image as grayscale uint8;
- :mod:`~course_lib.datasets.readers`: Kaggle, figshare, Br35H and class-per-folder trees into an
  *index* (one row per image, see that module);
- :mod:`~course_lib.datasets.audit`: counts, sizes, skipped and unreadable files, exact and near
  duplicates, leakage between two parts;
- :mod:`~course_lib.datasets.downloads`: the public sets, verified, failing fast offline;
- :mod:`~course_lib.datasets.synthetic_set`: the synthetic set written in the Kaggle layout;
- ``__main__``: the command line, ``course-data`` (``python -m course_lib.datasets``).

The names below are the public ones; import them from here.
"""

from course_lib.datasets.audit import (
    DUPLICATE_THRESHOLD,
    HASH_SIZE,
    AuditReport,
    LeakageReport,
    audit,
    find_duplicates,
    leakage_report,
)
from course_lib.datasets.downloads import DOWNLOADS, DownloadError, download, verify_download
from course_lib.datasets.images import (
    IMAGE_EXTENSIONS,
    UnreadableImageError,
    as_uint8,
    list_images,
    load_image,
    read_figshare_mat,
)
from course_lib.datasets.readers import (
    BINARY_CLASSES,
    CLASS_ALIASES,
    FIGSHARE_LABELS,
    INDEX_COLUMNS,
    SOURCES,
    DatasetLayoutError,
    UnreadableFilesWarning,
    canonical_class,
    read_br35h,
    read_dataset,
    read_figshare,
    read_folder,
    read_kaggle,
)
from course_lib.datasets.synthetic_set import (
    check_writable,
    prepare_default,
    prepare_synthetic,
    synthetic_dir,
)

__all__ = [
    "BINARY_CLASSES",
    "CLASS_ALIASES",
    "DOWNLOADS",
    "DUPLICATE_THRESHOLD",
    "FIGSHARE_LABELS",
    "HASH_SIZE",
    "IMAGE_EXTENSIONS",
    "INDEX_COLUMNS",
    "SOURCES",
    "AuditReport",
    "DatasetLayoutError",
    "DownloadError",
    "LeakageReport",
    "UnreadableFilesWarning",
    "UnreadableImageError",
    "as_uint8",
    "audit",
    "canonical_class",
    "check_writable",
    "download",
    "find_duplicates",
    "leakage_report",
    "list_images",
    "load_image",
    "prepare_default",
    "prepare_synthetic",
    "read_br35h",
    "read_dataset",
    "read_figshare",
    "read_figshare_mat",
    "read_folder",
    "read_kaggle",
    "synthetic_dir",
    "verify_download",
]
