"""Inference speed on the CPU: eager PyTorch against what an export bundle holds.

For small_cnn and resnet18 at 32x32 RGB (CIFAR-10's shape, 10 classes, untrained weights: speed
does not depend on them), each variant is timed in this one process, variants alternating within
each round: latency at batch 1 (milliseconds per call) and throughput at batch 64 (images per
second), medians over the rounds, with the ratios to eager.

    uv run python benchmarks/inference.py              # every variant, about 5 minutes here
    uv run python benchmarks/inference.py --no-aoti    # without AOTInductor's compile (a minute per model)

Variants: eager (the nn.Module under inference_mode), torch (model.pt2, the torch.export program),
onnxruntime (model.onnx), onnxruntime int8 (model_int8.onnx: static int8, calibrated here on random
images since only speed is measured), torchao int8 (model_int8.pt2: dynamic int8 of the Linear
layers) and aoti (an AOTInductor package compiled for this machine).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from project_name.export import compile_aoti, export_onnx, export_program, load_artifact, quantize_int8, quantize_onnx_int8
from project_name.models.base import build_model
from project_name.utils.config import compose

SHAPE = (3, 32, 32)

def build(model: str) -> torch.nn.Module:
    cfg = compose([f"model={model}", "data=cifar10"])
    return build_model(cfg.model, {"name": "cifar10", "num_classes": 10, "input_shape": list(SHAPE)}).eval()

def variants(model: torch.nn.Module, folder: Path, threads: int, aoti: bool) -> dict:
    "name: a function from a float32 batch to logits."
    program = export_program(model, SHAPE)
    torch.export.save(program, str(folder/"model.pt2"))
    export_onnx(model, SHAPE, folder/"model.onnx")
    calibration = np.random.default_rng(1).standard_normal((128, *SHAPE), dtype=np.float32)
    quantize_onnx_int8(folder/"model.onnx", folder/"model_int8.onnx", calibration)
    torch.export.save(export_program(quantize_int8(model), SHAPE), str(folder/"model_int8.pt2"))
    def eager(x):
        with torch.inference_mode(): return model(torch.from_numpy(x)).numpy()
    found = {"eager": eager, "torch (.pt2)": load_artifact(folder/"model.pt2", "torch"),
             "onnxruntime": load_artifact(folder/"model.onnx", "onnx", threads),
             "onnxruntime int8": load_artifact(folder/"model_int8.onnx", "onnx_int8", threads),
             "torchao int8": load_artifact(folder/"model_int8.pt2", "torch_int8")}
    if aoti: found["aoti"] = load_artifact(compile_aoti(program, folder/"model_aoti.pt2"), "aoti")
    return found

def seconds_per_call(run, x: np.ndarray, budget: float) -> float:
    for _ in range(2): run(x)
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < budget:
        run(x)
        n += 1
    return (time.perf_counter() - start) / n

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["small_cnn", "resnet18"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="torch's and onnxruntime's threads")
    ap.add_argument("--no-aoti", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    batches = {1: rng.standard_normal((1, *SHAPE), dtype=np.float32), 64: rng.standard_normal((64, *SHAPE), dtype=np.float32)}
    print(f"CPU inference, {platform.machine()} {platform.processor() or ''}, {args.threads} threads, torch {torch.__version__}, "
          f"medians of {args.rounds} rounds\n")
    print("| model | variant | batch 1: ms | vs eager | batch 64: images/s | vs eager |\n|---|---|---:|---:|---:|---:|")
    goals = {}
    for name in args.models:
        with tempfile.TemporaryDirectory() as d:
            runs = variants(build(name), Path(d), args.threads, not args.no_aoti)
            times = {v: {b: [] for b in batches} for v in runs}
            for _ in range(args.rounds):
                for v, run in runs.items():
                    for b, x in batches.items(): times[v][b].append(seconds_per_call(run, x, 0.4))
        med = {v: {b: statistics.median(t) for b, t in bt.items()} for v, bt in times.items()}
        for v in runs:
            lat, thr = med[v][1] * 1e3, 64 / med[v][64]
            print(f"| {name} | {v} | {lat:.2f} | {med['eager'][1] / med[v][1]:.2f}x | {thr:,.0f} | {med['eager'][64] / med[v][64]:.2f}x |")
        goals[name] = med
    print()
    if "small_cnn" in goals:
        m = goals["small_cnn"]
        r = m["eager"][1] / m["onnxruntime"][1]
        print(f"small_cnn, batch 1: onnxruntime {r:.1f}x eager's throughput (goal 1.5x: {'met' if r >= 1.5 else 'not met'})")
    if "resnet18" in goals:
        m = goals["resnet18"]
        best = min((v for v in m if v != "eager"), key=lambda v: m[v][64])
        r = m["eager"][64] / m[best][64]
        print(f"resnet18, batch 64: the best variant, {best}, {r:.1f}x eager's throughput (goal 2x: {'met' if r >= 2 else 'not met'})")

if __name__ == "__main__":
    main()
