"""Samples per second of the trainer's speed switches, on synthetic CIFAR-shaped data.

    uv run python benchmarks/gpu_switches.py            # on a GPU machine: well under 5 minutes
    uv run python benchmarks/gpu_switches.py --quick    # a smoke test on the CPU, seconds

Each row adds one switch to the config (`training.*`, `data.*` keys: the same switches a run
takes on the command line) and trains ResNet-18 (small-input stem) through MLTrainer; the number
is training samples per second over the epochs after the first (warm-up and compilation).
"""
import argparse
import sys
import time

import torch
from torch.utils.data import TensorDataset

from project_name.data.datasets import DataSplits, build_loaders
from project_name.models.base import build_model
from project_name.training.callbacks import Callback
from project_name.train import build_trainer
from project_name.utils.config import compose, get_device, seed_everything


def synthetic_cifar(n_train: int = 25_000, n_eval: int = 2_000, seed: int = 0) -> DataSplits:
    "Random 3x32x32 images in [0, 1] with random labels: CIFAR-10's shape without its download."
    g = torch.Generator().manual_seed(seed)
    make = lambda n: TensorDataset(torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g))
    return DataSplits("synthetic_cifar", make(n_train), make(n_eval), make(n_eval), [str(i) for i in range(10)])


class EpochTimer(Callback):
    "Wall time of each training epoch, the device synchronized at both ends."
    def __init__(self): self.times = []
    def _sync(self):
        if self.trainer.device.type == "cuda": torch.cuda.synchronize()
    def on_epoch_begin(self): self._sync(); self.start = time.perf_counter()
    def on_batch_end(self):
        if self.trainer.batch_idx == self.trainer.batches_per_epoch - 1: self._sync(); self.times.append(time.perf_counter() - self.start)


DATALOADER = ["data.in_memory=false", "data.num_workers=0", "data.pin_memory=false", "data.persistent_workers=false"]
PINNED = ["data.in_memory=false", "data.num_workers=4", "data.pin_memory=true", "data.persistent_workers=true"]
VARIANTS = [  # (name, overrides, GPU only)
    ("fp32, DataLoader (0 workers)", DATALOADER, False),
    ("fp32, DataLoader (4 workers, pinned)", PINNED, True),
    ("fp32, in-memory loader on the device", [], False),
    ("+ channels_last", ["training.channels_last=true"], False),
    ("+ cudnn.benchmark", ["training.channels_last=true", "training.cudnn_benchmark=true"], True),
    ("+ bf16 autocast", ["training.channels_last=true", "training.cudnn_benchmark=true", "training.precision=bf16"], False),
    ("+ fp16 autocast and grad scaler (instead of bf16)", ["training.channels_last=true", "training.cudnn_benchmark=true", "training.precision=16-mixed"], True),
    ("+ torch.compile (bf16)", ["training.channels_last=true", "training.cudnn_benchmark=true", "training.precision=bf16", "training.compile=true"], True),
]


def measure(overrides, data, epochs, batch_size, model):
    cfg = compose(["data=cifar10", f"model={model}", f"training.batch_size={batch_size}", f"training.epochs={epochs}",
                   "~training.scheduler", "callbacks=none", "logger.wandb.mode=disabled", *overrides])
    seed_everything(0)
    device = get_device(cfg.device)
    torch.backends.cudnn.benchmark = bool(cfg.training.cudnn_benchmark)
    cfg.data.dataset = {"_target_": f"{synthetic_cifar.__module__}.synthetic_cifar", "n_train": data[0], "n_eval": data[1]}
    loaders = build_loaders(cfg.data, device=device, seed=0)
    timer = EpochTimer()
    trainer = build_trainer(cfg, build_model(cfg.model, loaders.meta), callbacks=[timer], device=device)
    trainer.fit(loaders.train, None)
    steady = timer.times[1:] or timer.times
    return data[0] / min(steady), trainer.device


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and the CPU variants only: a smoke test")
    args = p.parse_args(argv)
    data, epochs, batch_size, model = ((1024, 256), 2, 128, "small_cnn") if args.quick else ((25_000, 2_000), 3, 512, "resnet18")
    on_gpu = torch.cuda.is_available()
    rows = []
    for name, overrides, gpu_only in VARIANTS:
        if gpu_only and not on_gpu: continue
        start = time.perf_counter()
        rate, device = measure(overrides, data, epochs, batch_size, model)
        rows.append((name, rate, time.perf_counter() - start))
        print(f"  {name}: {rate:,.0f} samples/s", file=sys.stderr, flush=True)
    base = rows[0][1]
    hw = torch.cuda.get_device_name() if on_gpu else "CPU"
    print(f"\n{model}, batch {batch_size}, {data[0]:,} synthetic 3x32x32 images per epoch, {hw}, torch {torch.__version__}\n")
    print("| switches | samples/s | vs first row | wall s |\n|---|---:|---:|---:|")
    for name, rate, wall in rows: print(f"| {name} | {rate:,.0f} | {rate / base:.2f}x | {wall:.1f} |")


if __name__ == "__main__":
    main()
