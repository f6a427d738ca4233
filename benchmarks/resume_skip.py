"""How long does a fit resumed at batch 9,000 of 10,000 wait for its next batch?

    uv run python benchmarks/resume_skip.py              # 10,000 batches of 16 images of 8x8, random crops
    uv run python benchmarks/resume_skip.py --batches 2000 --at 1800

Before: the trainer drew every batch up to the checkpoint's and dropped it (what it still does for
a loader that is not the project's). After: the project's loaders start at that batch
(`skip_batches`), and each batch's (or image's) augmentation has its own seed, so the batches from
there on are the same either way; the script checks that they are. One torch thread.
"""
import argparse
import time

import torch
from torch.utils.data import TensorDataset

torch.set_num_threads(1)
from project_name.data.datasets import InMemoryLoader, torch_loader
from project_name.data.transforms import build_transforms

CROP = [{"_target_": "project_name.data.transforms.RandomPadCrop", "padding": 2}]


def next_batch_after(loader, at: int, skip: bool) -> tuple[float, torch.Tensor]:
    "Seconds until batch `at` of epoch 1 is in hand, and that batch."
    loader.sampler.set_epoch(1)
    start = time.perf_counter()
    if skip:
        loader.skip_batches(at)
        x, _ = next(iter(loader))
    else:
        batches = iter(loader)
        for _ in range(at): next(batches)
        x, _ = next(batches)
    return time.perf_counter() - start, x


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=10_000)
    p.add_argument("--at", type=int, default=9_000)
    p.add_argument("--batch-size", type=int, default=16)
    a = p.parse_args()
    n = a.batches * a.batch_size
    data = TensorDataset(torch.rand(n, 1, 8, 8), torch.randint(0, 10, (n,)))
    tf = build_transforms(CROP)
    loaders = {"in memory": lambda: InMemoryLoader(data, a.batch_size, tf, shuffle=True, seed=0),
               "DataLoader, 0 workers": lambda: torch_loader(data, a.batch_size, tf, shuffle=True, seed=0),
               "DataLoader, 2 workers": lambda: torch_loader(data, a.batch_size, tf, shuffle=True, seed=0, num_workers=2)}
    print(f"Resume at batch {a.at:,} of {a.batches:,} (batch {a.batch_size}, 1x8x8, random crops); CPU, 1 torch thread\n")
    print("| loader | draw and drop (before) | start there (after) | speed-up | same batch |")
    print("|---|---:|---:|---:|:---:|")
    for name, make in loaders.items():
        before, x_before = next_batch_after(make(), a.at, skip=False)
        after, x_after = next_batch_after(make(), a.at, skip=True)
        print(f"| {name} | {before:.2f} s | {after:.3f} s | {before / after:.0f}x | {'yes' if torch.equal(x_before, x_after) else 'NO'} |")


if __name__ == "__main__":
    main()
