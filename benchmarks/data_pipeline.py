"""Image files through the data pipeline: images per second of the project's `data=imagefolder`
loader, uncached and with `data.cache=memory|disk`, against hand-written torchvision loops.

    uv run python benchmarks/data_pipeline.py                 # 5,000 JPEGs of 64x64 in 10 classes, 2 workers
    uv run python benchmarks/data_pipeline.py --images 2000 --workers 0 --rounds 1

The script writes the image folder itself (smooth random shapes, JPEG quality 90) in a temporary
folder. Every variant reads the training split of the same files (80% of them, the project's
split), in batches of 64, shuffled, with the same augmentation (pad 4 by reflection and crop
back, flip left-right, normalize) and the same DataLoader workers (persistent), and is timed
over 3 epochs in its own process, 1 torch thread in the main process; the variants alternate
within a round, and the table gives the median over the rounds of the first epoch and of the
later ones. Imports are paid before the clock starts; the first epoch includes everything after
them (scanning and checking the folder, starting the workers, building a cache). Only the loader
is timed: nothing trains.

- torchvision ImageFolder: `ImageFolder` + `DataLoader`, PIL decode and the classic transforms
  (`Resize`, `RandomCrop(padding_mode="reflect")`, `RandomHorizontalFlip`, `ToTensor`, `Normalize`)
  in the workers: the usual hand-written loop.
- torchvision decode_jpeg, batch transforms: the file's bytes decoded by `torchvision.io.decode_jpeg`
  (libjpeg-turbo) into uint8 in the workers, the augmentation applied to whole batches in the
  main process: the fastest hand-written loop found here that decodes every epoch.
- project, `data.cache=null`: `build_loaders` of `data=imagefolder`, what a run uses by default.
- project, `data.cache=memory`: decoded once (by the workers) into uint8 tensors, then batched
  from memory; its first epoch includes the decoding.
- project, `data.cache=disk`, first and later runs: the same, the decoded images also kept in a
  file under the data folder; a later run reads that file instead of the images.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
VARIANTS = ["torchvision ImageFolder", "torchvision decode_jpeg, batch transforms", "project, data.cache=null",
            "project, data.cache=memory", "project, data.cache=disk, first run", "project, data.cache=disk, later runs"]

def write_images(root: Path, n: int, size: int = 64, classes: int = 10, seed: int = 0):
    "`n` JPEGs of `size` x `size` in `classes` class folders: a coloured ellipse on a gradient, with a little noise."
    import numpy as np
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size)[None, :, None]
    for i in range(n):
        c = i % classes
        (root/f"class{c}").mkdir(parents=True, exist_ok=True)
        base = (ramp * rng.uniform(0, 255, 3) + rng.normal(0, 8, (size, size, 3))).clip(0, 255).astype(np.uint8)
        img = Image.fromarray(base)
        x, y, r = rng.integers(8, size - 8, 2).tolist() + [4 + 2 * c]
        ImageDraw.Draw(img).ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        img.save(root/f"class{c}"/f"{i}.jpg", quality=90)

def project_loader(root: Path, workers: int, cache: str | None, data_dir: Path):
    from project_name.data.datasets import build_loaders
    from project_name.utils.config import compose
    cfg = compose(["data=imagefolder", f"data.dataset.root={root}", "data.image_size=64", "training.batch_size=64",
                   f"data.num_workers={workers}", f"data.cache={cache or 'null'}", f"paths.data_dir={data_dir}"])
    return build_loaders(cfg.data, seed=0).train, None

def train_split(root: Path) -> list:
    "The (path, label) pairs of the project's training split, saved beside the images (the hand-written loops read it)."
    return json.loads((root.parent/"train.json").read_text())

def torchvision_loader(root: Path, workers: int):
    import torch
    from torchvision import datasets, transforms as T
    train = {p for p, _ in train_split(root)}
    tf = T.Compose([T.Resize(64), T.RandomCrop(64, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize(MEAN, STD)])
    ds = datasets.ImageFolder(str(root), transform=tf, is_valid_file=lambda p: p in train)
    return torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers, persistent_workers=workers > 0), None

class JpegBytes:
    "The training images as uint8 (3, H, W) tensors, decoded from their files by torchvision's libjpeg-turbo."
    def __init__(self, samples): self.samples = samples
    def __len__(self): return len(self.samples)
    def __getitem__(self, i):
        from torchvision.io import ImageReadMode, decode_jpeg, read_file
        path, label = self.samples[i]
        return decode_jpeg(read_file(path), mode=ImageReadMode.RGB), label

def decode_jpeg_loader(root: Path, workers: int):
    import torch
    from project_name.data.transforms import Normalize, Pipeline, RandomFlip, RandomPadCrop
    loader = torch.utils.data.DataLoader(JpegBytes(train_split(root)), batch_size=64, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    augment = Pipeline([RandomPadCrop(4), RandomFlip(0.5), Normalize(MEAN, STD)])
    return loader, lambda x: augment(x.float() / 255)

def one_variant(variant: str, root: Path, workers: int, epochs: int, data_dir: Path) -> dict:
    "Time `epochs` passes of `variant`'s training loader (building it included in the first)."
    import torch
    import torchvision.datasets, torchvision.io, torchvision.transforms  # imports are paid before the clock, by every variant
    import project_name.data.datasets, project_name.utils.config
    torch.set_num_threads(1)
    start = time.perf_counter()
    if variant.startswith("torchvision ImageFolder"): loader, batch_tf = torchvision_loader(root, workers)
    elif variant.startswith("torchvision decode_jpeg"): loader, batch_tf = decode_jpeg_loader(root, workers)
    else: loader, batch_tf = project_loader(root, workers, variant.split("data.cache=")[1].split(",")[0], data_dir)
    times, n = [], 0
    for epoch in range(epochs):
        if hasattr(loader, "sampler") and hasattr(loader.sampler, "set_epoch"): loader.sampler.set_epoch(epoch)
        n = 0
        for x, y in loader:
            if batch_tf is not None: x = batch_tf(x)
            n += len(x)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
    return {"images": n, "epoch_s": times}

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one variant, in this process: what main runs
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(one_variant(args.variant, Path(args.root), args.workers, args.epochs, Path(args.data_dir))))
        return
    results = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)/"images"
        write_images(root, args.images)
        from project_name.data.datasets import load_imagefolder
        (root.parent/"train.json").write_text(json.dumps(load_imagefolder(root, image_size=64, seed=0).train.samples))
        for r in range(args.rounds):
            data_dir = Path(d)/f"data{r}"  # each round's disk cache starts empty
            for v in VARIANTS:
                p = subprocess.run([sys.executable, __file__, "--variant", v, "--root", str(root), "--workers", str(args.workers),
                                    "--epochs", str(args.epochs), "--data-dir", str(data_dir)], cwd=ROOT,
                                   env=os.environ | {"OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}, capture_output=True, text=True)
                if p.returncode: raise SystemExit(f"{v} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
                results[v].append(json.loads(p.stdout.splitlines()[-1]))
                print(f"  round {r + 1}, {v}: {[round(t, 2) for t in results[v][-1]['epoch_s']]} s", file=sys.stderr)
    n = results[VARIANTS[0]][0]["images"]
    first = {v: statistics.median(res["epoch_s"][0] for res in rs) for v, rs in results.items()}
    later = {v: statistics.median(statistics.median(res["epoch_s"][1:]) for res in rs) for v, rs in results.items()}
    base = later[VARIANTS[0]]
    print(f"\n{n} training images of 64x64 (JPEG), batch 64, {args.workers} worker(s), {os.cpu_count()} CPUs, "
          f"1 torch thread in the main process; medians of {args.rounds} round(s)\n")
    print("| loader | first epoch: images/s | later epochs: images/s | later epochs vs torchvision ImageFolder |")
    print("|---|---:|---:|---:|")
    for v in VARIANTS:
        print(f"| {v} | {n / first[v]:,.0f} | {n / later[v]:,.0f} | {base / later[v]:.2f}x |")

if __name__ == "__main__":
    main()
