"""How much does the trainer cost over a hand-written loop? And a headless run over the CLI?

    uv sync --group bench                       # Lightning, for the comparison
    uv run python benchmarks/trainer_overhead.py            # training overhead, then headless overhead
    uv run python benchmarks/trainer_overhead.py --rounds 5 --skip-headless

Two workloads, each on the CPU with 2 threads, AdamW, batch 64, validation every epoch, no
augmentation and no LR schedule (so that every variant does the same arithmetic):

- `digits` (the default): the project's digits split (1,257 training images), small_cnn, lr 1e-3;
  data and model prepared off the clock.
- `guide_cnn`: all of digits as float tensors (1,437 train / 360 val), the guide's CNN
  (conv 1->32, conv 32->64, max-pool, linear 1024->128->10), lr 1e-3, weight decay 0.01. For
  MLTrainer the clock also covers composing the config and building the trainer with its default
  callbacks, as a user's script does; one raw step takes about 0.45 ms, so per-step costs show.
 Each variant runs in its own process, variants alternate within a
round, after a warm-up round that is thrown away. In each process, imports, data preparation and
lazy one-time costs (a throwaway fit of two batches) are paid before the clock starts; the clock
covers what a user waits for: the logger's start, the fit, and the logger's finish.
Run at 1 and at 10 epochs: the difference is the cost per epoch, the rest is the fixed cost.
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
VARIANTS = {
    "raw": "hand-written loop over in-memory tensors (the floor)",
    "raw_dataloader": "the same loop over a per-sample DataLoader",
    "guide": "the guide's pattern: DataLoader, loss.item() every batch, wandb.log (offline)",
    "lightning": "PyTorch Lightning, defaults (progress bar, checkpoints, logger)",
    "lightning_bare": "PyTorch Lightning, progress bar, checkpoints and logger off",
    "ours": "MLTrainer, default callbacks + W&B offline (started in the background)",
    "ours_no_wandb": "MLTrainer, default callbacks, W&B off",
    "ours_background_checkpoint": "MLTrainer, default callbacks, W&B off, last.pt written in a thread (callbacks.checkpoint.background)",
}
GUIDE_VARIANTS = ["raw", "ours", "ours_no_wandb", "ours_background_checkpoint"]
BATCH, LR, WD, LOG_INTERVAL = 64, 1e-3, 0.01, 10
WORKLOAD = os.environ.get("BENCH_WORKLOAD", "digits")  # set by the parent for its children
EPOCH_ENDS = []  # when each epoch of the timed fit ended (raw and MLTrainer): the median epoch, without start and finish


# ---------------------------------------------------------------- one variant, in its own process
def prepare():
    "The workload's data as tensors, normalized as the digits config does."
    import torch
    from project_name.data.transforms import Normalize
    norm = Normalize([0.305], [0.384])
    if WORKLOAD == "guide_cnn":
        from sklearn.datasets import load_digits as sk_digits
        from sklearn.model_selection import train_test_split
        d = sk_digits()
        x, y = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16, torch.tensor(d.target)
        tr, va = train_test_split(range(len(y)), test_size=360, stratify=d.target, random_state=0)
        return norm(x[tr]), y[tr], norm(x[va]), y[va]
    from project_name.data.datasets import load_digits
    d = load_digits(seed=0)
    (xt, yt), (xv, yv) = d.train.tensors, d.val.tensors
    return norm(xt), yt, norm(xv), yv

def guide_cnn():
    "The guide's CNN for 8x8 digits."
    from torch import nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10))

def model():
    if WORKLOAD == "guide_cnn": return guide_cnn()
    from project_name.models.networks import SmallCNN
    return SmallCNN(1, 10, width=32, dropout=0.1)

def raw_fit(epochs, data, **_):
    import torch
    import torch.nn.functional as F
    xt, yt, xv, yv = data
    net = model(); opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WD)
    for epoch in range(epochs):
        net.train()
        for idx in torch.randperm(len(xt)).split(BATCH):
            loss = F.cross_entropy(net(xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        net.eval()
        with torch.no_grad(): correct = sum((net(xv[i:i + 512]).argmax(1) == yv[i:i + 512]).sum() for i in range(0, len(xv), 512))
        acc = correct.item() / len(xv)  # the epoch's one host sync
        EPOCH_ENDS.append(time.perf_counter())
    return acc

def _loaders(data):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    xt, yt, xv, yv = data
    return (DataLoader(TensorDataset(xt, yt), batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0)),
            DataLoader(TensorDataset(xv, yv), batch_size=512))

def raw_dataloader_fit(epochs, data, **_):
    import torch
    import torch.nn.functional as F
    train, val = _loaders(data)
    net = model(); opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WD)
    for epoch in range(epochs):
        net.train()
        for x, y in train:
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        net.eval()
        with torch.no_grad(): correct = sum((net(x).argmax(1) == y).sum() for x, y in val)
        acc = correct.item() / len(data[3])
    return acc

def guide_fit(epochs, data, out, use_wandb=True):
    import torch
    import torch.nn.functional as F
    import wandb
    run = wandb.init(project="bench", dir=out, mode="offline" if use_wandb else "disabled", settings=wandb.Settings(silent=True))
    train, val = _loaders(data)
    net = model(); opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WD)
    for epoch in range(epochs):
        net.train(); total = 0.0
        for i, (x, y) in enumerate(train):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
            total += loss.item()
            if i % LOG_INTERVAL == 0: run.log({"batch_loss": loss.item()})
        net.eval(); val_loss, correct = 0.0, 0
        with torch.no_grad():
            for x, y in val:
                out_ = net(x); val_loss += F.cross_entropy(out_, y, reduction="sum").item(); correct += (out_.argmax(1) == y).sum().item()
        acc = correct / len(data[3])
        run.log({"epoch_loss": total / len(train), "val_loss": val_loss / len(data[3]), "val_accuracy": acc})
    run.finish()
    return acc

def lightning_fit(epochs, data, out, bare=False):
    import lightning as L
    import torch
    import torch.nn.functional as F
    class Module(L.LightningModule):
        def __init__(self): super().__init__(); self.net = model()
        def training_step(self, batch, i):
            x, y = batch; loss = F.cross_entropy(self.net(x), y); self.log("train_loss", loss); return loss
        def validation_step(self, batch, i):
            x, y = batch; out_ = self.net(x)
            self.log("val_loss", F.cross_entropy(out_, y)); self.log("val_accuracy", (out_.argmax(1) == y).float().mean())
        def configure_optimizers(self): return torch.optim.AdamW(self.parameters(), lr=LR, weight_decay=WD)
    train, val = _loaders(data)
    off = dict(enable_progress_bar=False, enable_checkpointing=False, logger=False) if bare else {}
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, default_root_dir=out, enable_model_summary=False,
                        num_sanity_val_steps=0, **off)
    trainer.fit(Module(), train, val)
    return float(trainer.callback_metrics["val_accuracy"])

def ours_fit(epochs, data, out, use_wandb=True, background_checkpoint=False):
    from project_name.data.datasets import build_loaders
    from project_name.models.base import build_model
    from project_name.train import build_callbacks, build_trainer
    from project_name.training.callbacks import WandbCallback
    from project_name.utils.config import compose
    from project_name.utils.wandb_utils import start_wandb
    overrides = [f"paths.output_dir={out}", f"training.epochs={epochs}", f"training.learning_rate={LR}",
                 f"training.weight_decay={WD}", "~training.scheduler", "data.train_transforms=${data.eval_transforms}",
                 f"logger.wandb.mode={'offline' if use_wandb else 'disabled'}", "seed=0", "device=cpu",
                 f"callbacks.checkpoint.background={background_checkpoint}"]
    if WORKLOAD == "guide_cnn":  # the clock covers composing and building, as in a user's script
        from torch.utils.data import TensorDataset
        from project_name.data.datasets import InMemoryLoader, Loaders
        cfg = compose(overrides)
        xt, yt, xv, yv = data
        loaders = Loaders(InMemoryLoader(TensorDataset(xt, yt), BATCH, shuffle=True), InMemoryLoader(TensorDataset(xv, yv), 512),
                          None, None)
        net, untimed = guide_cnn(), 0.0
    else:
        start = time.perf_counter()  # outside the clock: the config, the loaders (data preparation) and the model
        cfg = compose(overrides)
        loaders = build_loaders(cfg.data, seed=0)
        net = build_model(cfg.model, loaders.meta)
        untimed = time.perf_counter() - start
    from project_name.training.callbacks import Callback
    class EpochClock(Callback):
        order = 1000  # after every other callback's on_epoch_end (the checkpoint's too)
        def on_epoch_end(self): EPOCH_ENDS.append(time.perf_counter())
    run = start_wandb(cfg)
    trainer = build_trainer(cfg, net, callbacks=build_callbacks(cfg) + ([WandbCallback(run)] if run else []) + [EpochClock()])
    trainer.fit(loaders.train, loaders.val)
    if run: run.finish()
    return trainer.history[-1]["val_accuracy"], untimed

FITS = {"raw": raw_fit, "raw_dataloader": raw_dataloader_fit, "guide": guide_fit, "lightning": lightning_fit,
        "lightning_bare": lambda e, d, out: lightning_fit(e, d, out, bare=True), "ours": ours_fit,
        "ours_no_wandb": lambda e, d, out: ours_fit(e, d, out, use_wandb=False),
        "ours_background_checkpoint": lambda e, d, out: ours_fit(e, d, out, use_wandb=False, background_checkpoint=True)}

def child(variant, epochs):
    import torch
    torch.set_num_threads(2)
    data = prepare()
    with tempfile.TemporaryDirectory() as warm:  # lazy one-time costs, off the clock
        import torch.nn.functional as F
        net = model(); opt = torch.optim.AdamW(net.parameters(), lr=LR)  # imports torch._dynamo
        F.cross_entropy(net(data[0][:BATCH]), data[1][:BATCH]).backward(); opt.step()
        if variant.startswith("lightning"): FITS[variant](1, tuple(t[:2 * BATCH] for t in data), warm)
        if variant.startswith("ours"): ours_fit(1, data, warm, use_wandb=False)
        if variant in ("guide", "ours"): import wandb  # imported like torch, off the clock; its service start and init stay on it
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        EPOCH_ENDS.clear()
        result = FITS[variant](epochs, data, out=out)
        seconds = time.perf_counter() - start
    acc, untimed = result if isinstance(result, tuple) else (result, 0.0)
    later = [b - a for a, b in zip(EPOCH_ENDS, EPOCH_ENDS[1:])]  # epochs 2 on: what an epoch costs once the fit runs
    print(json.dumps({"seconds": seconds - untimed, "val_accuracy": acc, "epoch_s": statistics.median(later) if later else None,
                      "fastest_epoch_s": min(later) if later else None}))


# ---------------------------------------------------------------- the parent: rounds and the table
def env(workload="digits"):
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "IN_TEST")}
    return e | {"PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir())/"project_name-pycache"), "WANDB_MODE": "offline",
                "OMP_NUM_THREADS": "2", "BENCH_WORKLOAD": workload}

def run_child(variant, epochs, workload):
    p = subprocess.run([sys.executable, __file__, "--child", variant, "--epochs", str(epochs)], cwd=ROOT, env=env(workload),
                       capture_output=True, text=True)
    if p.returncode: raise RuntimeError(f"{variant} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])

def training_table(variants, rounds, epochs_list, workload="digits"):
    print(f"\nWorkload: {workload}")
    results = {}
    for epochs in epochs_list:
        for r in range(rounds + 1):  # round 0 warms the disk and the bytecode caches
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            got = {v: run_child(v, epochs, workload) for v in order}
            print(f"  {epochs} epoch(s), round {r}{' (warm-up)' if r == 0 else ''}: " +
                  ", ".join(f"{v} {got[v]['seconds']:.2f}s" for v in variants), file=sys.stderr, flush=True)
            if r: results.setdefault(epochs, []).append(got)
    print("\n| variant | epochs | median s | median ratio to raw | val accuracy |\n|---|---:|---:|---:|---:|")
    med = {}
    for epochs, rs in results.items():
        for v in variants:
            med[v, epochs] = statistics.median(x[v]["seconds"] for x in rs)
            ratio = statistics.median(x[v]["seconds"] / x["raw"]["seconds"] for x in rs)
            print(f"| {v} | {epochs} | {med[v, epochs]:.2f} | {ratio:.2f}x | {rs[-1][v]['val_accuracy']:.3f} |")
    if len(epochs_list) == 2:
        lo, hi = sorted(epochs_list)
        print(f"\n| variant | fixed s | s per epoch | per epoch vs raw |\n|---|---:|---:|---:|")
        raw_pe = (med["raw", hi] - med["raw", lo]) / (hi - lo)
        for v in variants:
            pe = (med[v, hi] - med[v, lo]) / (hi - lo)
            print(f"| {v} | {med[v, lo] - lo * pe:.2f} | {pe:.3f} | {pe / raw_pe:.2f}x |")
    if all(x[v]["epoch_s"] is not None for x in results[max(epochs_list)] for v in variants):
        rs = results[max(epochs_list)]
        print(f"\n| variant | median epoch s (epochs 2-{max(epochs_list)}, timed in the fit) | vs raw | fastest epoch s | vs raw |"
              "\n|---|---:|---:|---:|---:|")
        fastest = {v: min(x[v]["fastest_epoch_s"] for x in rs) for v in variants}  # what an epoch costs undisturbed: noise only adds
        for v in variants:
            ratio = statistics.median(x[v]["epoch_s"] / x["raw"]["epoch_s"] for x in rs)
            print(f"| {v} | {statistics.median(x[v]['epoch_s'] for x in rs):.3f} | {ratio:.2f}x | {fastest[v]:.3f} | "
                  f"{fastest[v] / fastest['raw']:.2f}x |")

def headless_table():
    "Wall time of the same config through papermill and through the CLI, `import project_name`, and peak RSS."
    import resource
    def timed(*cmd):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env(), check=True, capture_output=True)
        return time.perf_counter() - start
    with tempfile.TemporaryDirectory() as d:
        cli = [timed(sys.executable, "-m", "project_name.train", f"paths.output_dir={d}/cli{i}") for i in range(3)]
        rss_cli = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        nb = [timed(sys.executable, "-m", "papermill", "nbs/train.ipynb", f"{d}/out{i}.ipynb", "-p", "output_dir", f"{d}/nb{i}",
                    "-k", "python3") for i in range(3)]
        imp = [timed(sys.executable, "-c", "import project_name") for _ in range(5)]
        imp_train = [timed(sys.executable, "-c", "import project_name.train") for _ in range(3)]
    print("\n| what | median wall s |\n|---|---:|")
    print(f"| CLI: python -m project_name.train (default config, 10 epochs) | {statistics.median(cli):.2f} |")
    print(f"| papermill nbs/train.ipynb (same config) | {statistics.median(nb):.2f} |")
    print(f"| python -c 'import project_name' | {statistics.median(imp):.2f} |")
    print(f"| python -c 'import project_name.train' | {statistics.median(imp_train):.2f} |")
    print(f"\nPeak RSS of the default CLI run: {rss_cli:.0f} MiB")

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", choices=list(VARIANTS)); p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3, help="timed rounds after the warm-up round")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--workloads", default="digits,guide_cnn", help="digits, guide_cnn or both")
    p.add_argument("--skip-headless", action="store_true"); p.add_argument("--skip-training", action="store_true")
    a = p.parse_args()
    if a.child: return child(a.child, a.epochs)
    import platform
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for v, what in VARIANTS.items(): print(f"- {v}: {what}")
    for workload in ([] if a.skip_training else a.workloads.split(",")):
        variants = a.variants.split(",") if workload == "digits" else [v for v in a.variants.split(",") if v in GUIDE_VARIANTS]
        training_table(variants, a.rounds, [1, 10], workload)
    if not a.skip_headless: headless_table()

if __name__ == "__main__":
    main()
