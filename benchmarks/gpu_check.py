"""The GPU paths, checked and timed on the machine at hand: one command, one markdown report, within five minutes.

    uv run python benchmarks/gpu_check.py               # on a GPU machine
    uv run python benchmarks/gpu_check.py --dry-run     # the same code paths at tiny size, on the CPU (the test suite runs this)

With a Python that brings its own torch (a GPU machine's image), install the project's pure-Python
dependencies beside it and put the repository on the path:

    python3 -m pip install --target /tmp/site hydra-core==1.3.2 omegaconf==2.3.0 antlr4-python3-runtime==4.9.3 fastcore==1.12.22
    PYTHONPATH=$PWD:/tmp/site python3 benchmarks/gpu_check.py --out gpu_report.md

It reports: the machine (GPUs, torch, CUDA, driver); samples per second of small_cnn and resnet18
at 32x32 for each speed switch (fp32 through the DataLoader and through the in-memory loader on
the GPU, channels_last, bf16, 16-mixed, torch.compile); a short DDP run over the GPUs present
(NCCL; gloo on the CPU); exact resume on the GPU: a fit stopped after two epochs and resumed
must end with the weights of one that was not stopped, bit for bit (deterministic kernels on);
and image files: images per second from a folder of JPEGs through the project's loader (decoded
by the workers, each batch made floats and augmented on the GPU; and `data.cache=memory`, held on
the GPU), against torchvision's `decode_jpeg` on the GPU (nvJPEG) with the same augmentation,
and how far nvJPEG's pixels are from PIL's.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_pipeline import MEAN, STD, write_images  # noqa: E402
from gpu_switches import EpochTimer, synthetic_cifar  # noqa: E402

from project_name.data.datasets import build_loaders, decode_image  # noqa: E402
from project_name.data.transforms import Normalize, Pipeline, RandomFlip, RandomPadCrop  # noqa: E402
from project_name.models.base import build_model  # noqa: E402
from project_name.training.callbacks import ModelCheckpoint  # noqa: E402
from project_name.train import build_trainer  # noqa: E402
from project_name.utils.config import compose, get_device, seed_everything  # noqa: E402
from project_name.utils.logging import quiet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SWITCHES = [  # (name, overrides): each row one config, the switches a run takes on the command line
    ("fp32, DataLoader", ["data.in_memory=false", "data.num_workers=0"]),
    ("fp32, in-memory loader on the device", []),
    ("+ channels_last", ["training.channels_last=true"]),
    ("+ bf16 autocast", ["training.channels_last=true", "training.precision=bf16"]),
    ("+ 16-mixed (fp16 autocast, grad scaler)", ["training.channels_last=true", "training.precision=16-mixed"]),
    ("+ torch.compile (bf16)", ["training.channels_last=true", "training.precision=bf16", "training.compile=true"]),
]

def machine() -> list[str]:
    lines = [f"- torch {torch.__version__}, CUDA {torch.version.cuda or 'none'}, Python {platform.python_version()}, {platform.machine()}"]
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        lines.append(f"- GPU {i}: {p.name}, {p.total_memory / 1024**3:.0f} GiB, compute capability {p.major}.{p.minor}")
    if smi := shutil.which("nvidia-smi"):
        driver = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True).stdout.split()
        lines.append(f"- NVIDIA driver {driver[0] if driver else '?'}")
    return lines or ["- no GPU"]

def config(model: str, size: dict, *overrides):
    cfg = compose(["data=cifar10", f"model={model}", f"training.batch_size={size['batch']}", f"training.epochs={size['epochs']}",
                   "~training.scheduler", "callbacks=none", "logger.wandb.mode=disabled", f"device={size['device']}",
                   *(["data.pin_memory=false"] if size["device"] == "cpu" else []), *overrides])
    cfg.data.dataset = {"_target_": f"{synthetic_cifar.__module__}.synthetic_cifar", "n_train": size["train"], "n_eval": size["eval"]}
    return cfg

def samples_per_second(model: str, overrides: list[str], size: dict) -> float:
    "Training samples per second over the epochs after the first (warm-up, compilation)."
    cfg = config(model, size, *overrides)
    seed_everything(0)
    device = get_device(cfg.device)
    loaders = build_loaders(cfg.data, device=device, seed=0)
    timer = EpochTimer()
    with quiet("torch.utils.cpp_extension"):  # torch.compile's "No CUDA runtime is found" on a CPU
        build_trainer(cfg, build_model(cfg.model, loaders.meta), callbacks=[timer], device=device).fit(loaders.train)
    return size["train"] / min(timer.times[1:] or timer.times)

def switches(size: dict, models: list[str], gpu: bool) -> list[str]:
    rows = ["| switches | " + " | ".join(f"{m} samples/s" for m in models) + " |", "|---|" + "---:|" * len(models)]
    for name, overrides in SWITCHES:
        if not gpu and "16-mixed" in name: continue  # fp16 autocast is a GPU path: on the CPU it would be fp32 again
        if not gpu and "compile" in name: models_here = models[:1]  # compiling on a CPU takes long: the path, once
        else: models_here = models
        rates = {m: samples_per_second(m, overrides, size) for m in models_here}
        rows.append(f"| {name} | " + " | ".join(f"{rates[m]:,.0f}" if m in rates else "-" for m in models) + " |")
        print(f"  {name}: " + ", ".join(f"{m} {r:,.0f}/s" for m, r in rates.items()), file=sys.stderr, flush=True)
    return rows

def ddp(size: dict, work: Path) -> list[str]:
    "A short run of the CLI under torchrun, over every GPU (two gloo processes on the CPU)."
    gpu = size["device"] != "cpu"
    procs = max(torch.cuda.device_count(), 1) if gpu else 2
    overrides = ["model=small_cnn", f"training.epochs={size['epochs']}", "training.limit_batches=8", "~training.scheduler",
                 "callbacks.progress.style=lines", "logger.wandb.mode=disabled", f"paths.output_dir={work/'ddp'}"]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", "-m", "project_name.train",
                        *overrides], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if p.returncode: return [f"- **failed** ({procs} processes): {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}"]
    m = json.loads((work/"ddp"/"metrics.json").read_text())
    backend = "NCCL" if gpu else "gloo"
    note = " (one GPU: one process, no DDP; two or more GPUs run DDP)" if procs == 1 else ""
    return [f"- {procs} processes ({backend}){note}: {m['epochs_completed']} epochs in {wall:.0f} s, test accuracy {m['test_accuracy']:.3f}"]

def exact_resume(size: dict, work: Path) -> list[str]:
    "A fit of 4 epochs against one stopped after 2 and resumed from its checkpoint: the same weights, bit for bit?"
    def fit(epochs: int, folder: Path, resume=None):
        cfg = config("small_cnn", size, "training.epochs=4", "training.deterministic=true", "model.dropout=0.2", f"paths.output_dir={folder}")
        seed_everything(0, deterministic=True)
        device = get_device(cfg.device)
        loaders = build_loaders(cfg.data, device=device, seed=0)
        trainer = build_trainer(cfg, build_model(cfg.model, loaders.meta), device=device,
                            callbacks=[ModelCheckpoint(folder/"checkpoints", monitor="val_accuracy")])
        trainer.fit(loaders.train, loaders.val, epochs=epochs, resume=resume)
        return trainer.model.state_dict()
    through = fit(4, work/"through")
    fit(2, work/"stopped")
    resumed = fit(4, work/"stopped", resume=work/"stopped"/"checkpoints"/"last.pt")
    diff = max((through[k].double() - resumed[k].double()).abs().max().item() for k in through if through[k].is_floating_point())
    same = all(torch.equal(through[k], resumed[k]) for k in through)
    device = "GPU" if size["device"] != "cpu" else "CPU"
    return [f"- stopped after 2 of 4 epochs on the {device}, resumed: {'bit-identical weights' if same else f'**weights differ** (largest {diff:.2e})'}"]

def _sync(device: torch.device):
    if device.type == "cuda": torch.cuda.synchronize(device)

def _images_per_second(batches, device: torch.device, n: int, epochs: int = 3) -> float:
    "Images per second over the passes of `batches()` after the first."
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x in batches(): pass
        _sync(device)
        times.append(time.perf_counter() - start)
    return n / min(times[1:])

def image_files(size: dict, work: Path) -> list[str]:
    "Images per second from a folder of 64x64 JPEGs: the project's loader (files; data.cache=memory) and nvJPEG, augmented alike."
    from torchvision.io import ImageReadMode, decode_jpeg, read_file
    root, device = work/"images", get_device(size["device"])
    write_images(root, size["images"])
    rows = [f"{size['images']:,} JPEGs of 64x64 in 10 classes, batch 256, augmented (pad-crop, flip, normalize) on the "
            f"{device.type.upper()}; images per second over the epochs after the first", "",
            "| loader | images/s |", "|---|---:|"]
    for name, cache in (("project, decoded by 4 workers (PIL), batches augmented on the device", "null"),
                        ("project, data.cache=memory (uint8 on the device)", "memory")):
        cfg = compose(["data=imagefolder", f"data.dataset.root={root}", "data.image_size=64", "training.batch_size=256",
                       "data.num_workers=4", f"data.cache={cache}", f"paths.data_dir={work}", f"device={size['device']}"])
        loader = build_loaders(cfg.data, device=device, seed=0).train
        rows.append(f"| {name} | {_images_per_second(lambda: loader, device, len(loader.dataset)):,.0f} |")
    files = sorted(root.rglob("*.jpg"))
    encoded = [read_file(str(f)) for f in files]
    augment = Pipeline([RandomPadCrop(4), RandomFlip(0.5), Normalize(MEAN, STD)])
    def nvjpeg():
        for i in range(0, len(encoded), 256):
            yield augment(torch.stack(decode_jpeg(encoded[i:i + 256], mode=ImageReadMode.RGB, device=device)).float().div_(255))
    rows.append(f"| torchvision decode_jpeg on the {device.type.upper()}, every epoch | {_images_per_second(nvjpeg, device, len(files)):,.0f} |")
    gap = max((decode_jpeg(encoded[i], mode=ImageReadMode.RGB, device=device).cpu().int() - decode_image(files[i], 64).int()).abs().max().item()
              for i in range(min(32, len(files))))
    rows += ["", f"- decode_jpeg on the {device.type.upper()} against PIL (what the project and predict read): pixels differ by at most {gap}/255"]
    return rows

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU: the same code paths, in about a minute")
    ap.add_argument("--out", help="also write the report to this file")
    args = ap.parse_args(argv)
    gpu = torch.cuda.is_available() and not args.dry_run
    if not gpu: os.environ["CUDA_VISIBLE_DEVICES"] = ""  # a dry run's subprocesses stay on the CPU too
    size = (dict(train=20_000, eval=2_000, batch=512, epochs=3, device="auto", images=20_000) if gpu else
            dict(train=64, eval=32, batch=32, epochs=2, device="cpu", images=300))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        report = ["# GPU check" + (" (dry run, CPU)" if not gpu else ""), "", "## Machine", *machine(), "",
                  f"## Training speed: synthetic 3x32x32 images, {size['train']:,} per epoch, batch {size['batch']}", "",
                  *switches(size, ["small_cnn", "resnet18"], gpu), "", "## DDP", *ddp(size, work), "",
                  "## Exact resume", *exact_resume(size, work), "", "## Image files", *image_files(size, work), "",
                  f"{time.perf_counter() - start:.0f} s in all."]
    text = "\n".join(report)
    print(text)
    if args.out: Path(args.out).write_text(text + "\n")

if __name__ == "__main__":
    main()
