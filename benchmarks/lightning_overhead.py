"""Training throughput of TumorClassifier under Lightning vs a plain PyTorch loop.

Same model (same initial weights), same in-memory tensors, same batches in the same order, same
work per batch (forward, loss, torchmetrics update, backward, AdamW step, per-step cosine
schedule) and per epoch (metric compute and reset). Lightning runs with what adds overhead in a
fair comparison turned off: no progress bar, no logger, no checkpointing, no model summary, no
validation or sanity check. ``self.log`` calls stay (they are Lightning's own machinery).

Timing is steady state: the first epoch of each run is a warm-up and not counted; runs alternate
(plain, Lightning, plain, ...) and the median epoch time of each is used.

    python benchmarks/lightning_overhead.py                 # CPU, ~1 minute
    python benchmarks/lightning_overhead.py --image-size 128 --epochs 4

Target: Lightning overhead at most 5% (throughput ratio >= 0.95).
"""

from __future__ import annotations

import argparse
import statistics
import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from course_lib.models import TumorClassifier


def make_loader(n: int, image_size: int, batch_size: int, seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, image_size, image_size, generator=g)
    y = torch.randint(0, 4, (n,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def new_model(backbone: str, state: dict | None) -> TumorClassifier:
    model = TumorClassifier(backbone=backbone, scheduler="cosine")
    if state is not None:
        model.load_state_dict(state)
    return model


def plain_epoch_times(model: TumorClassifier, loader: DataLoader, epochs: int) -> list[float]:
    """A hand-written loop doing the same work as TumorClassifier.training_step per batch."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=model.hparams.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in loader:
            logits = model(x)
            loss = model.criterion(logits, y)
            preds = logits.argmax(dim=1)
            model.train_metrics.update(preds, y)
            model.train_recall.update(preds, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        model.train_metrics.compute()
        model.train_metrics.reset()
        model.train_recall.compute()
        model.train_recall.reset()
        times.append(time.perf_counter() - start)
    return times


class EpochTimer(pl.Callback):
    """Wall time from each training epoch's start to the next one's (or the end of training)."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.end = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.starts.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        self.end = time.perf_counter()

    def epoch_times(self) -> list[float]:
        edges = [*self.starts, self.end]
        return [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]


def lightning_epoch_times(model: TumorClassifier, loader: DataLoader, epochs: int) -> list[float]:
    timer = EpochTimer()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(model, loader)
    return timer.epoch_times()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="simple_cnn")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--n", type=int, default=1024, help="images per epoch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=4, help="per run, the first is warm-up")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import warnings

    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)

    torch.manual_seed(args.seed)
    state = new_model(args.backbone, None).state_dict()
    loader = make_loader(args.n, args.image_size, args.batch_size, args.seed)
    plain, lightning = [], []
    for _ in range(args.repeats):
        plain += plain_epoch_times(new_model(args.backbone, state), loader, args.epochs)[1:]
        lightning += lightning_epoch_times(new_model(args.backbone, state), loader, args.epochs)[1:]
    plain_ips = args.n / statistics.median(plain)
    lightning_ips = args.n / statistics.median(lightning)
    ratio = lightning_ips / plain_ips
    print(
        f"backbone={args.backbone} image={args.image_size}px batch={args.batch_size} "
        f"n={args.n} epochs_timed={len(plain)} each, torch threads={torch.get_num_threads()}"
    )
    print(
        f"plain PyTorch loop : {plain_ips:8.1f} images/s "
        f"(median epoch {statistics.median(plain):.3f} s)"
    )
    print(
        f"Lightning Trainer  : {lightning_ips:8.1f} images/s "
        f"(median epoch {statistics.median(lightning):.3f} s)"
    )
    print(f"ratio Lightning/plain = {ratio:.3f}  -> overhead {100 * (1 - ratio):+.1f}%")
    print("target: overhead <= 5%:", "MET" if ratio >= 0.95 else "NOT MET")


if __name__ == "__main__":
    main()
