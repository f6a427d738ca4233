"""Does the test suite notice when behaviour breaks? A mutation check (a dev tool, not run by CI).

Each mutation below changes one exported line of a notebook the way a plausible bug would. The
script copies the checkout to a scratch folder, checks that the notebooks pass there unchanged,
then for each mutation: changes the notebook, exports it, runs the notebooks that should notice
(stopping at the first that fails), restores, and prints one table row: caught or not.

    uv run python benchmarks/mutations.py              # every mutation (about 20 minutes here)
    uv run python benchmarks/mutations.py --only clip  # the mutations whose name contains "clip"
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# name, notebook, the exported code as it is, what the mutation makes of it, the notebooks that should notice
MUTATIONS = [
    ("atomic_copy writes straight to the file", "31_training.callbacks",
     "        shutil.copyfile(src, tmp)\n        os.replace(tmp, dst)", "        shutil.copyfile(src, dst)",
     ["31_training.callbacks"]),
    ("best.pt copied every epoch", "31_training.callbacks",
     "then=(lambda: atomic_copy(self.last_path, self.best_path)) if improved else None)",
     "then=lambda: atomic_copy(self.last_path, self.best_path))",
     ["31_training.callbacks", "51_train"]),
    ("augmentation ignores the epoch", "11_data.datasets",
     "return ((seed * 100_003 + epoch) * 1_000_003 + i) % 2**63", "return ((seed * 100_003) * 1_000_003 + i) % 2**63",
     ["11_data.datasets"]),
    ("unstratified split", "11_data.datasets",
     "stratify=labels[rest], random_state=seed)", "stratify=None, random_state=seed)", ["11_data.datasets", "51_train"]),
    ("in-memory loader transforms per sample", "11_data.datasets",
     "else (self.x[sl], self.y[sl])\n            yield self.transform(to_float(x), generator=gen.manual_seed(sample_seed(self.seed, epoch, b))), y",
     "else (self.x[sl], self.y[sl])\n            yield torch.stack([self.transform(xi, generator=gen.manual_seed(sample_seed(self.seed, epoch, b))) for xi in to_float(x)]), y",
     ["11_data.datasets"]),
    ("a skipped DataLoader pass augments as if from its first batch", "11_data.datasets",
     "for b, (x, y) in enumerate(super().__iter__(), start):", "for b, (x, y) in enumerate(super().__iter__()):", ["11_data.datasets"]),
    ("the disk cache of decoded images ignores changed files", "11_data.datasets",
     "stamps = [(p, (s := Path(p).stat()).st_size, s.st_mtime_ns) for p, _ in files.samples]", "stamps = [p for p, _ in files.samples]",
     ["11_data.datasets"]),
    ("decoding a cache draws from torch's global generator", "11_data.datasets",
     "num_workers=num_workers, generator=torch.Generator()):", "num_workers=num_workers):", ["11_data.datasets"]),
    ("the fit ends before its background checkpoint is written", "31_training.callbacks",
     "def on_fit_end(self): self.trainer.wait_for_checkpoint()", "def on_fit_end(self): pass", ["32_training.trainer"]),
    ("W&B imports its Launch package at every start", "05_utils.wandb_utils",
     'if "wandb.sdk.launch.inputs.internal" in sys.modules: look(self)', "look(self)", ["05_utils.wandb_utils"]),
    ("validation in train mode", "32_training.trainer",
     "    self.model.eval()\n    n_batches = _limit", "    self.model.train()\n    n_batches = _limit", ["32_training.trainer"]),
    ("accumulated loss not divided", "32_training.trainer",
     "self.scaler.scale(self.loss / accum).backward()", "self.scaler.scale(self.loss).backward()", ["32_training.trainer"]),
    ("gradient clipping skipped", "31_training.callbacks",
     "        torch.nn.utils.clip_grad_norm_(t.model.parameters(), self.max_norm, self.norm_type)", "        pass",
     ["31_training.callbacks", "32_training.trainer"]),
    ("accuracy counted with argmin", "30_training.metrics",
     "return _counts(logits.argmax(1) == targets)", "return _counts(logits.argmin(1) == targets)", ["30_training.metrics", "32_training.trainer"]),
    ("macro F1 with a transposed confusion matrix", "30_training.metrics",
     "tp, actual, predicted = cm.diag(), cm.sum(1), cm.sum(0)", "tp, actual, predicted = cm.diag(), cm.sum(0), cm.sum(0)",
     ["30_training.metrics"]),
    ("metrics of the epoch read from the wrong slice", "32_training.trainer",
     "values[f\"{split}_{m.name}\"] = m.value(total[at:at + len(s)]) if len(s) else float(\"nan\")",
     "values[f\"{split}_{m.name}\"] = m.value(total[:len(s)]) if len(s) else float(\"nan\")", ["32_training.trainer"]),
    ("after_step before the optimizer step", "32_training.trainer",
     "    self._call(\"before_step\")\n    self.scaler.step(self.optimizer)", "    self._call(\"after_step\")\n    self.scaler.step(self.optimizer)",
     ["31_training.callbacks"]),
    ("CSV logger writes only the last epoch", "31_training.callbacks",
     "        rows = self.trainer.history\n", "        rows = self.trainer.history[-1:]\n", ["31_training.callbacks"]),
    ("training bypasses torch.compile", "32_training.trainer",
     "            self.out = self.forward(self.x)\n", "            self.out = self.model(self.x)\n", ["32_training.trainer:slow"]),
    ("the trainer's own config copy keeps secrets", "51_train",
     "config=config if config is not None else redact_secrets(OmegaConf.to_container(cfg, resolve=True))",
     "config=config if config is not None else OmegaConf.to_container(cfg, resolve=True)", ["32_training.trainer"]),
    ("report with targets and predictions swapped", "40_evaluation.metrics",
     "classification_report(y, p, output_dict=True, **kw)", "classification_report(p, y, output_dict=True, **kw)",
     ["40_evaluation.metrics", "51_train"]),
    ("confusion matrix transposed", "40_evaluation.metrics",
     "confusion_matrix=confusion_matrix(y, p, labels=labels)", "confusion_matrix=confusion_matrix(y, p, labels=labels).T",
     ["40_evaluation.metrics"]),
    ("evaluator predicts with argmin", "40_evaluation.metrics",
     "        p = z.argmax(1)\n", "        p = z.argmin(1)\n", ["40_evaluation.metrics", "51_train"]),
    ("confusion plot ignores normalize", "40_evaluation.metrics",
     "values = cm / cm.sum(1, keepdims=True).clip(min=1) if normalize else cm", "values = cm", ["40_evaluation.metrics"]),
    ("learning curves plot train twice", "40_evaluation.metrics",
     '[h[f"{split}_{key}"] for h in history]', '[h[f"train_{key}"] for h in history]', ["40_evaluation.metrics"]),
    ("W&B confusion chart swapped", "05_utils.wandb_utils",
     "y_true=[int(t) for t in targets], preds=[int(p) for p in predictions]",
     "y_true=[int(p) for p in predictions], preds=[int(t) for t in targets]", ["05_utils.wandb_utils"]),
    ("W&B logging waits for the start", "05_utils.wandb_utils",
     "        if self._waited or self._future.done():", "        if True:", ["05_utils.wandb_utils"]),
    ("pipeline evaluates last.pt", "20_models.base",
     'for p in (path/"checkpoints"/"best.pt", path/"checkpoints"/"last.pt")',
     'for p in (path/"checkpoints"/"last.pt", path/"checkpoints"/"best.pt")', ["20_models.base", "51_train"]),
    ("pipeline's W&B pairs transposed", "51_train",
     "pairs = [(t, p) for t in range(len(cm))", "pairs = [(p, t) for t in range(len(cm))", ["51_train"]),
    ("the run's config keeps secrets", "51_train",
     "return c, redact_secrets(OmegaConf.to_container(c))", "return c, OmegaConf.to_container(c)", ["51_train"]),
    ("job log stays in the first run's folder", "50_runs",
     "            h.baseFilename = str(Path(run_dir).resolve()/Path(h.baseFilename).name)\n", "", ["50_runs"]),
    ("export traces the model in train mode", "60_export",
     "return torch.export.export(model.eval(), ", "return torch.export.export(model.train(), ", ["60_export"]),
    ("two Normalize steps folded wrongly", "60_export",
     "mean, std = mean + m * std, std * s", "mean, std = mean + m, std * s", ["60_export"]),
    ("a replaced model file is run", "60_export",
     "        if sha256(path) != self.meta[\"files\"][name]:", "        if False:", ["60_export"]),
    ("predict skips the normalization", "61_predict",
     "return ((images - mean) / std).astype(np.float32)", "return images.astype(np.float32)", ["61_predict"]),
    ("top-k sorted the wrong way", "61_predict",
     "order = np.argsort(-probs, axis=1", "order = np.argsort(probs, axis=1", ["61_predict"]),
    ("uint8 tensor files not scaled", "61_predict",
     "if array.dtype == np.uint8: return array.astype(np.float32) / 255", "if array.dtype == np.uint8: return array.astype(np.float32)",
     ["61_predict"]),
    ("calibration error counts signed gaps", "41_evaluation.interpret",
     'ece = sum(r["images"] * abs(r["accuracy"] - r["confidence"])', 'ece = sum(r["images"] * (r["accuracy"] - r["confidence"])',
     ["41_evaluation.interpret"]),
    ("top losses are the smallest", "41_evaluation.interpret",
     "order = np.argsort(-self.losses, kind=\"stable\")[:k]", "order = np.argsort(self.losses, kind=\"stable\")[:k]",
     ["41_evaluation.interpret"]),
    ("lr_find keeps the weights it trained", "32_training.trainer",
     '        self.model.load_state_dict(saved["model"])\n', "", ["32_training.trainer"]),
    ("comparison shows keys that are the same everywhere", "63_compare",
     "for r in self.runs}) > 1]", "for r in self.runs}) >= 1]", ["63_compare"]),
    ("no progress bar in JupyterLab", "31_training.callbacks",
     'return _in_notebook() and "JPY_SESSION_NAME" in os.environ', "return False", ["92_browser:browser"]),
    ("folds not stratified", "11_data.datasets",
     "StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels)",
     "StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), np.zeros(len(labels)))", ["11_data.datasets"]),
    ("repeats change the test split", "65_cross_validation",
     "            if value is not None: OmegaConf.update(c, key, value)  # these follow ${seed}, and must not\n",
     "            pass\n",
     ["65_cross_validation"]),
    ("a finished run is run again", "50_runs",
     "    return metrics if done and \"test_accuracy\" in metrics else None", "    return None", ["65_cross_validation"]),
    ("a taken-back trial starts again from scratch", "66_search",
     '(("training.resume=auto",) if resume else ())', "()", ["66_search:slow"]),
    ("a dead worker's trial counts as alive", "66_search",
     "if host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid)): return True", "pass", ["66_search"]),
    ("SIGTERM in a submitit job returns as done", "31_training.callbacks",
     "if submitit_requeue_signal() is not None: raise SystemExit(128 + self.signal)", "pass", ["31_training.callbacks"]),
    ("SIGUSR1 is not sent to submitit's requeue", "31_training.callbacks",
     "for s in PREEMPTION_SIGNALS: signal.signal(s, signal.getsignal(requeue_on))", "pass", ["31_training.callbacks"]),
    ("evaluate tests the val split", "62_evaluate",
     "getattr(run.loaders(device), split) if data is None",
     "run.loaders(device).val if data is None", ["62_evaluate"]),
    ("a resumed fit trains its epoch's first batches again", "32_training.trainer",
     "        loader.skip_batches(start)\n", "        loader.skip_batches(0)\n", ["32_training.trainer"]),
    ("a skipped DataLoader pass starts at the top", "11_data.datasets",
     "def skip_batches(self, n: int): self.sampler.skip(n * self.batch_size)", "def skip_batches(self, n: int): pass",
     ["11_data.datasets", "32_training.trainer"]),
    ("step checkpoints one step late", "31_training.callbacks",
     "t.global_step % self.every_n_steps == 0", "t.global_step % self.every_n_steps == 1", ["32_training.trainer"]),
    ("a step checkpoint saved as an epoch's end", "32_training.trainer",
     "    mid_epoch = self.in_train_epoch\n", "    mid_epoch = self.interrupted_by is not None\n", ["32_training.trainer"]),
    ("a streamed pass resumed on the wrong worker", "13_data.streaming",
     "n * self.batch_size, (n - 1) % workers", "n * self.batch_size, n % workers", ["13_data.streaming"]),
    ("streamed augmentation ignores the epoch", "13_data.streaming",
     "sample_seed(self.seed, self.current_epoch - 1, i)", "sample_seed(self.seed, 0, i)", ["13_data.streaming"]),
    ("the trainer leaves a streaming loader's epoch to litdata", "32_training.trainer",
     "    if hasattr(loader, \"set_epoch\"): loader.set_epoch(epoch)\n    elif", "    if", ["55_prepare:slow"]),
    ("every process resumes with rank 0's partial sums", "32_training.trainer",
     "self._resume[\"partial\"] if self._resume is not None and self.is_main else None",
     "self._resume[\"partial\"] if self._resume is not None else None", ["55_prepare:slow"]),
    ("override words left unredacted", "00_utils.core",
     "    return _SECRET_WORD.sub(lambda m: m[0] if m[\"value\"].startswith(\"${\") else f\"{m['key']}=***\", text)", "    return text",
     ["00_utils.core"]),
    ("Hydra's own files left as written", "01_utils.config",
     "    if (clean := redact_secrets(data)) == data: return False", "    if (clean := data) == data: return False", ["01_utils.config"]),
    ("a folder of results staged under its final name", "03_utils.files",
     "        self.tmp = path.with_name(f\".{path.name}.{socket.gethostname()}-{os.getpid()}.tmp\")", "        self.tmp = path",
     ["03_utils.files", "60_export"]),
    ("a folder lock that other processes share", "03_utils.files",
     "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", "fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)", ["03_utils.files"]),
    ("meta.json's own checksum not checked", "60_export",
     "    if meta.get(\"meta_sha256\") != meta_checksum(meta):", "    if False:", ["60_export", "61_predict"]),
    ("a resume takes whatever the command says", "51_train",
     "    if changes and not cfg.training.get(\"resume_override\"):", "    if False:", ["90_reliability"]),
    ("the schedule checked only once the run directory exists", "51_train",
     "    build_trainer(cfg, model, device=device).check_fit(loaders.train, loaders.val, ckpt, resume)", "    pass",
     ["90_reliability"]),
]

def copy_checkout(dest: Path):
    "The checkout's files (tracked, and untracked but not ignored) under `dest`."
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\0")
    for f in filter(None, files):
        if (ROOT/f).is_file():
            (dest/f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT/f, dest/f)

def mutate(nb_path: Path, old: str, new: str):
    "Replace `old` by `new` in the one exported cell that holds it."
    nb = json.loads(nb_path.read_text())
    hits = [c for c in nb["cells"] if c["cell_type"] == "code" and old in "".join(c["source"])]
    if len(hits) != 1 or "".join(hits[0]["source"]).count(old) != 1:
        raise SystemExit(f"{nb_path.name}: the code to mutate is in {len(hits)} cells, not exactly once:\n{old}")
    src = "".join(hits[0]["source"]).replace(old, new)
    hits[0]["source"] = src.splitlines(keepends=True)
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")

def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PYTHONPATH": str(cwd)}  # the scratch copy's package
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)

def test_notebook(scratch: Path, spec: str) -> bool:
    "Whether notebook `spec` ('name' or 'name:slow') passes in `scratch`."
    name, _, flags = spec.partition(":")
    cmd = [str(BIN/"nbdev_test"), "--path", f"nbs/{name}.ipynb"] + (["--flags", flags] if flags else [])
    return run(cmd, scratch).returncode == 0

def export(scratch: Path):
    p = run([str(BIN/"nbdev_export")], scratch)
    if p.returncode: raise SystemExit(f"nbdev_export failed:\n{p.stderr[-2000:]}")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=[], help="run the mutations whose name contains one of these")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or any(s in m[0] for s in args.only)]
    with tempfile.TemporaryDirectory(prefix="mutations-") as d:
        scratch = Path(d)
        copy_checkout(scratch)
        export(scratch)
        pristine = {p: p.read_bytes() for p in scratch.rglob("*") if p.is_file()}
        needed = sorted({spec for m in chosen for spec in m[4]})
        broken = [spec for spec in needed if not test_notebook(scratch, spec)]
        if broken: raise SystemExit(f"These notebooks fail without any mutation, so nothing can be concluded: {broken}")
        rows = []
        for name, nb, old, new, specs in chosen:
            start = time.perf_counter()
            mutate(scratch/"nbs"/f"{nb}.ipynb", old, new)
            export(scratch)
            caught_by = next((spec for spec in specs if not test_notebook(scratch, spec)), None)
            for p, data in pristine.items(): p.write_bytes(data)
            for p in set(scratch.rglob("*.py")) - set(pristine): p.unlink()
            rows.append((name, nb, caught_by, time.perf_counter() - start))
            print(f"{'caught' if caught_by else 'NOT CAUGHT':>10}  {name}", file=sys.stderr, flush=True)
    print("| mutation | in | caught by | s |\n|---|---|---|---:|")
    for name, nb, caught_by, secs in rows:
        print(f"| {name} | {nb} | {caught_by or '**not caught**'} | {secs:.0f} |")
    missed = sum(r[2] is None for r in rows)
    print(f"\n{len(rows) - missed} of {len(rows)} mutations caught.")
    sys.exit(1 if missed else 0)

if __name__ == "__main__":
    main()
