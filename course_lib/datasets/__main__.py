"""Command line of the datasets package: ``course-data`` (or ``python -m course_lib.datasets``).

::

    course-data prepare default [--profile P]             # what `make lab` runs
    course-data prepare synthetic [--out DIR --image-size N --per-class N
                                   --test-per-class N --seed N --profile P]
    course-data download kaggle|figshare|br35h [--dest DIR]
    course-data audit PATH [--json]

Every failure a user can cause (a wrong folder, an offline download, a folder that cannot be
written) ends with one line ``error: ...`` on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course_lib.datasets.audit import audit
from course_lib.datasets.downloads import DownloadError, download
from course_lib.datasets.synthetic_set import prepare_synthetic, synthetic_dir
from course_lib.synthetic_spec import SyntheticSpec


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``course-data``."""
    parser = argparse.ArgumentParser(
        prog="course-data", description="Prepare, download and audit the course's datasets."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="write a synthetic dataset")
    prep.add_argument(
        "kind",
        choices=["synthetic", "default"],
        help="synthetic: a set with the options below; default: the profile's set (make lab)",
    )
    prep.add_argument("--out", type=Path, default=None, help="folder (default: under data_dir)")
    prep.add_argument("--profile", default=None, help="profile for the defaults")
    prep.add_argument("--image-size", type=int)
    prep.add_argument("--per-class", type=int)
    prep.add_argument("--test-per-class", type=int)
    prep.add_argument("--seed", type=int)
    down = commands.add_parser("download", help="download a public dataset")
    down.add_argument("name", choices=["br35h", "figshare", "kaggle"])
    down.add_argument("--dest", type=Path, default=None)
    down.add_argument("--timeout", type=float, default=5.0)
    aud = commands.add_parser("audit", help="audit a dataset folder")
    aud.add_argument("path", type=Path)
    aud.add_argument("--json", action="store_true", help="print JSON")
    aud.add_argument("--threshold", type=int, default=12, help="near-duplicate bits (of 256)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``course-data`` (see the module docstring).

    Returns:
        The exit status (0 success, 1 a handled error, printed to stderr).
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "prepare":
            overrides = {
                key: value
                for key, value in (
                    ("image_size", args.image_size),
                    ("per_class", args.per_class),
                    ("test_per_class", args.test_per_class),
                    ("seed", args.seed),
                )
                if value is not None
            }
            spec = SyntheticSpec.from_profile(args.profile, **overrides)
            out = args.out if args.out is not None else synthetic_dir(spec)
            print(prepare_synthetic(out, spec))
        elif args.command == "download":
            print(download(args.name, args.dest, timeout=args.timeout))
        else:
            report = audit(args.path, threshold=args.threshold)
            print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    except (ValueError, TypeError, OSError, DownloadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
