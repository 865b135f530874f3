"""Train, test and predict headless, from a config file: the course's ``LightningCLI``.

Any notebook's training runs the same way from a terminal (or a Colab cell with ``!``)::

    course-train fit --config configs/cpu.yaml
    course-train fit --config configs/cpu.yaml --data.source folder --data.root PATH
    course-train fit --config configs/cpu.yaml --trainer.default_root_dir runs/my-run
    course-train test --config configs/cpu.yaml --ckpt_path BEST.ckpt
    course-train predict --config configs/cpu.yaml --ckpt_path BEST.ckpt
    course-train fit --help                                  # every option, with its default

(``python -m course_lib.cli`` is the same command.) ``BEST.ckpt``: the best checkpoint that
``fit`` prints. Everything a run writes goes under ``trainer.default_root_dir`` (``runs/<profile>``
in the configs): ``checkpoints/`` (the best epoch, and ``last.ckpt`` to resume from with
``--ckpt_path <root>/checkpoints/last.ckpt``) and ``logs/``. A user error (a folder in the wrong
layout, an unreadable image, a damaged checkpoint, one trained for other classes) ends with one
line ``error: ...`` and exit status 2; ``COURSE_DEBUG=1`` shows the traceback instead.

``configs/smoke.yaml``, ``cpu.yaml`` and ``gpu.yaml`` follow the profiles of
:mod:`course_lib.config`, with the callbacks of :func:`course_lib.training.make_trainer`.
The model's ``num_classes``, ``in_channels`` and ``class_names`` are taken from the data.
``trainer.precision: null`` means the profile's ``"auto"``: bf16-mixed on GPUs that support it,
16-mixed on other GPUs, 32-bit on a CPU.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pandas as pd
import torch

# Lightning 2.6 calls jsonargparse APIs deprecated in jsonargparse 4.49; the warnings are about
# Lightning's code, not ours or the user's (set the variable to "all" to see them).
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")

from pytorch_lightning.cli import LightningCLI  # noqa: E402
from torchmetrics.functional.classification import (  # noqa: E402
    multiclass_accuracy,
    multiclass_recall,
)

from course_lib.config import resolve_precision  # noqa: E402
from course_lib.data import BrainMRIDataModule  # noqa: E402
from course_lib.models import TumorClassifier  # noqa: E402
from course_lib.training import check_checkpoint_classes, read_checkpoint  # noqa: E402


class CourseCLI(LightningCLI):
    """``LightningCLI`` over :class:`TumorClassifier` and :class:`BrainMRIDataModule`.

    Adds to the plain CLI: the model's sizes linked to the data, ``precision: null`` resolved
    like the profiles' ``"auto"``, and a short printed summary after ``fit`` and ``predict``
    (``test`` prints Lightning's metric table).
    """

    def add_arguments_to_parser(self, parser) -> None:
        """Link the model's sizes to the data's, and the logger's folder to the run's root."""
        parser.link_arguments("data.channels", "model.in_channels")
        # everything a run writes goes under trainer.default_root_dir
        parser.link_arguments("trainer.default_root_dir", "trainer.logger.init_args.save_dir")
        parser.link_arguments(
            "data", "model.num_classes", compute_fn=_num_classes, apply_on="instantiate"
        )
        parser.link_arguments(
            "data", "model.class_names", compute_fn=_class_names, apply_on="instantiate"
        )

    def before_instantiate_classes(self) -> None:
        """Resolve ``precision: null``; put checkpoints under the run's root directory.

        A ``ModelCheckpoint`` without a ``dirpath`` writes to ``<default_root_dir>/checkpoints``
        (a fixed folder, so that ``--ckpt_path <default_root_dir>/checkpoints/last.ckpt``
        resumes), like the logger, which writes to ``<default_root_dir>/logs``.
        """
        config = self.config[self.subcommand] if self.subcommand else self.config
        if config.trainer.precision is None:
            config.trainer.precision = resolve_precision("auto")
        root = config.trainer.default_root_dir or os.getcwd()
        for callback in config.trainer.callbacks or []:
            init = getattr(callback, "init_args", None)
            if str(getattr(callback, "class_path", "")).endswith(".ModelCheckpoint"):
                if init.get("dirpath") is None:
                    init.dirpath = os.path.join(os.fspath(root), "checkpoints")

    def parse_arguments(self, parser, args) -> None:
        """Parse, then check that ``--ckpt_path`` is a readable checkpoint (one clear error)."""
        super().parse_arguments(parser, args)
        path = self._ckpt_path()
        if path is not None:
            read_checkpoint(path)  # before Lightning opens it for its hyperparameters

    def _ckpt_path(self) -> str | None:
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if path is None or str(path) in ("last", "best", "hpc", "registry"):
            return None
        return str(path)

    def _check_ckpt_path(self) -> None:
        path = self._ckpt_path()
        if path is not None:
            check_checkpoint_classes(read_checkpoint(path), self.datamodule.classes, path)

    def before_fit(self) -> None:
        """Check ``--ckpt_path`` (a resumed run) before training starts."""
        self._check_ckpt_path()

    def before_test(self) -> None:
        """Check ``--ckpt_path``: readable, and trained for the data's classes."""
        self._check_ckpt_path()

    def before_predict(self) -> None:
        """Check ``--ckpt_path``: readable, and trained for the data's classes."""
        self._check_ckpt_path()

    def after_fit(self) -> None:
        """Print where the best checkpoint is and the final epoch's metrics."""
        checkpoint = self.trainer.checkpoint_callback
        if checkpoint is not None and checkpoint.best_model_path:
            score = checkpoint.best_model_score
            print(f"best checkpoint: {checkpoint.best_model_path}")
            if score is not None:
                print(f"best {checkpoint.monitor}: {float(score):.4f}")
        _print_metrics(self.trainer.callback_metrics)

    def after_predict(self) -> None:
        """Print the predicted class counts (and accuracy when labels are known); save a CSV."""
        batches = self.trainer.predict_loop.predictions
        if not batches:
            return
        probs = torch.cat([b for b in batches if isinstance(b, torch.Tensor)])
        names = list(self.model.class_names)
        frame = pd.DataFrame(probs.numpy(), columns=[f"p_{n}" for n in names])
        frame["predicted"] = [names[i] for i in probs.argmax(dim=1).tolist()]
        labels = getattr(self.trainer.predict_dataloaders.dataset, "labels", None)
        if labels is not None and len(labels) == len(frame):
            frame["label"] = [names[int(i)] for i in labels]
        out = Path(self.trainer.log_dir or self.trainer.default_root_dir) / "predictions.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False)
        print(f"{len(frame)} predictions written to {out}")
        print(frame["predicted"].value_counts().reindex(names, fill_value=0).to_string())
        if "label" in frame:
            target = torch.as_tensor([int(i) for i in labels])
            k = len(names)
            _print_metrics(
                {
                    "predict/accuracy": multiclass_accuracy(probs, target, k, average="micro"),
                    "predict/balanced_accuracy": multiclass_recall(probs, target, k),
                }
            )


def _num_classes(data: BrainMRIDataModule) -> int:
    return data.num_classes


def _class_names(data: BrainMRIDataModule) -> list[str]:
    return list(data.classes)


def _print_metrics(metrics: dict) -> None:
    for name in sorted(metrics):
        value = metrics[name]
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            print(f"{name:>32} : {float(value):.4f}")


def cli_main(args: list[str] | None = None, *, run: bool = True) -> CourseCLI:
    """Run the CLI in-process (what ``python -m course_lib.cli`` does).

    Args:
        args: Command-line arguments, e.g. ``["fit", "--config", "configs/cpu.yaml"]``;
            ``None`` reads ``sys.argv``.
        run: ``False`` only builds the model, data and trainer (no subcommand in ``args``).

    Returns:
        The :class:`CourseCLI`, with ``.model``, ``.datamodule`` and ``.trainer``.
    """
    argv = sys.argv
    if args is not None:
        # In-process call (a test, a notebook): ``args`` is the whole command line, so hide the
        # host's own sys.argv (pytest's or Jupyter's), which LightningCLI would warn about.
        sys.argv = argv[:1]
    try:
        return CourseCLI(
            TumorClassifier,
            BrainMRIDataModule,
            args=args,
            run=run,
            subclass_mode_model=False,
            save_config_kwargs={"overwrite": True},
        )
    finally:
        sys.argv = argv


#: What a user can get wrong; :func:`main` prints these as one line.
USER_ERRORS = (ValueError, OSError, pickle.UnpicklingError)


def one_line(error: BaseException) -> str:
    r"""The message of an error on one line, also when a DataLoader worker raised it.

    Torch re-raises a worker's exception with its traceback in the message ("Caught X in
    DataLoader worker process 0. Original Traceback ..."); the last line is the original message.

    >>> one_line(ValueError("Caught ValueError in worker.\nOriginal Traceback:\nValueError: bad"))
    'bad'
    """
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if "Original Traceback" in str(error):
        last = lines[-1]
        name, _, message = last.partition(": ")
        return message if message and name.replace(".", "").isidentifier() else last
    return " ".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``course-train``: run the CLI; a user error prints one line and returns 2.

    Args:
        argv: The arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0, or 2 after an error a user can fix.
    """
    try:
        cli_main(argv)
    except USER_ERRORS as error:
        if os.environ.get("COURSE_DEBUG"):
            raise
        print(f"error: {one_line(error)}", file=sys.stderr)
        print("(set COURSE_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
