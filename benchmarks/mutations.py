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
    ("atomic_copy writes straight to the file", "06_training.callbacks",
     "        shutil.copyfile(src, tmp)\n        os.replace(tmp, dst)", "        shutil.copyfile(src, dst)",
     ["06_training.callbacks"]),
    ("best.pt copied every epoch", "06_training.callbacks",
     "        if improved: atomic_copy(self.last_path, self.best_path)", "        atomic_copy(self.last_path, self.best_path)",
     ["06_training.callbacks", "10_pipeline"]),
    ("augmentation ignores the epoch", "03_data.datasets",
     "manual_seed(self.seed * 100_003 + epoch + 1)", "manual_seed(self.seed * 100_003 + 1)", ["03_data.datasets"]),
    ("unstratified split", "03_data.datasets",
     "stratify=labels[rest], random_state=seed)", "stratify=None, random_state=seed)", ["03_data.datasets", "10_pipeline"]),
    ("in-memory loader transforms per sample", "03_data.datasets",
     "yield self.transform(x, generator=gen), y", "yield torch.stack([self.transform(xi, generator=gen) for xi in x]), y",
     ["03_data.datasets"]),
    ("validation in train mode", "07_training.trainer",
     "    self.model.eval()\n    n_batches = _limit", "    self.model.train()\n    n_batches = _limit", ["07_training.trainer"]),
    ("accumulated loss not divided", "07_training.trainer",
     "self.scaler.scale(self.loss / accum).backward()", "self.scaler.scale(self.loss).backward()", ["07_training.trainer"]),
    ("gradient clipping skipped", "06_training.callbacks",
     "        torch.nn.utils.clip_grad_norm_(t.model.parameters(), self.max_norm, self.norm_type)", "        pass",
     ["06_training.callbacks", "07_training.trainer"]),
    ("accuracy counted with argmin", "06a_training.metrics",
     "return _counts(logits.argmax(1) == targets)", "return _counts(logits.argmin(1) == targets)", ["06a_training.metrics", "07_training.trainer"]),
    ("macro F1 with a transposed confusion matrix", "06a_training.metrics",
     "tp, actual, predicted = cm.diag(), cm.sum(1), cm.sum(0)", "tp, actual, predicted = cm.diag(), cm.sum(0), cm.sum(0)",
     ["06a_training.metrics"]),
    ("metrics of the epoch read from the wrong slice", "07_training.trainer",
     "values[f\"{split}_{m.name}\"] = m.value(total[at:at + len(s)]) if len(s) else float(\"nan\")",
     "values[f\"{split}_{m.name}\"] = m.value(total[:len(s)]) if len(s) else float(\"nan\")", ["07_training.trainer"]),
    ("after_step before the optimizer step", "07_training.trainer",
     "    self._call(\"before_step\")\n    self.scaler.step(self.optimizer)", "    self._call(\"after_step\")\n    self.scaler.step(self.optimizer)",
     ["06_training.callbacks"]),
    ("CSV logger writes only the last epoch", "06_training.callbacks",
     "        rows = self.trainer.history\n", "        rows = self.trainer.history[-1:]\n", ["06_training.callbacks"]),
    ("training bypasses torch.compile", "07_training.trainer",
     "            self.out = self.forward(self.x)\n", "            self.out = self.model(self.x)\n", ["07_training.trainer:slow"]),
    ("the trainer's own config copy keeps secrets", "10_pipeline",
     "config=config if config is not None else redact_secrets(OmegaConf.to_container(cfg, resolve=True))",
     "config=config if config is not None else OmegaConf.to_container(cfg, resolve=True)", ["07_training.trainer"]),
    ("report with targets and predictions swapped", "08_evaluation.metrics",
     "classification_report(y, p, output_dict=True, **kw)", "classification_report(p, y, output_dict=True, **kw)",
     ["08_evaluation.metrics", "10_pipeline"]),
    ("confusion matrix transposed", "08_evaluation.metrics",
     "confusion_matrix=confusion_matrix(y, p, labels=labels)", "confusion_matrix=confusion_matrix(y, p, labels=labels).T",
     ["08_evaluation.metrics"]),
    ("evaluator predicts with argmin", "08_evaluation.metrics",
     "p = self.model(x).argmax(1)", "p = self.model(x).argmin(1)", ["08_evaluation.metrics", "10_pipeline"]),
    ("confusion plot ignores normalize", "08_evaluation.metrics",
     "values = cm / cm.sum(1, keepdims=True).clip(min=1) if normalize else cm", "values = cm", ["08_evaluation.metrics"]),
    ("learning curves plot train twice", "08_evaluation.metrics",
     '[h[f"{split}_{key}"] for h in history]', '[h[f"train_{key}"] for h in history]', ["08_evaluation.metrics"]),
    ("W&B confusion chart swapped", "09_utils.wandb_utils",
     "y_true=[int(t) for t in targets], preds=[int(p) for p in predictions]",
     "y_true=[int(p) for p in predictions], preds=[int(t) for t in targets]", ["09_utils.wandb_utils"]),
    ("W&B logging waits for the start", "09_utils.wandb_utils",
     "        if self._waited or self._future.done():", "        if True:", ["09_utils.wandb_utils"]),
    ("pipeline evaluates last.pt", "04_models.base",
     'for p in (path/"checkpoints"/"best.pt", path/"checkpoints"/"last.pt")',
     'for p in (path/"checkpoints"/"last.pt", path/"checkpoints"/"best.pt")', ["04_models.base", "10_pipeline"]),
    ("pipeline's W&B pairs transposed", "10_pipeline",
     "pairs = [(t, p) for t in range(len(cm))", "pairs = [(p, t) for t in range(len(cm))", ["10_pipeline"]),
    ("the run's config keeps secrets", "10_pipeline",
     "return c, redact_secrets(OmegaConf.to_container(c))", "return c, OmegaConf.to_container(c)", ["10_pipeline"]),
    ("job log stays in the first run's folder", "10_pipeline",
     "            h.baseFilename = str(Path(run_dir).resolve()/Path(h.baseFilename).name)\n", "", ["10_pipeline"]),
    ("export traces the model in train mode", "19_export",
     "return torch.export.export(model.eval(), ", "return torch.export.export(model.train(), ", ["19_export"]),
    ("two Normalize steps folded wrongly", "19_export",
     "mean, std = mean + m * std, std * s", "mean, std = mean + m, std * s", ["19_export"]),
    ("a replaced model file is run", "19_export",
     "        if sha256(path) != self.meta[\"files\"][name]:", "        if False:", ["19_export"]),
    ("predict skips the normalization", "20_predict",
     "return ((images - mean) / std).astype(np.float32)", "return images.astype(np.float32)", ["20_predict"]),
    ("top-k sorted the wrong way", "20_predict",
     "order = np.argsort(-probs, axis=1", "order = np.argsort(probs, axis=1", ["20_predict"]),
    ("uint8 tensor files not scaled", "20_predict",
     "return array.astype(np.float32) / 255 if array.dtype == np.uint8 else", "return array.astype(np.float32) if True else",
     ["20_predict"]),
    ("calibration error counts signed gaps", "22_evaluation.interpret",
     'ece = sum(r["images"] * abs(r["accuracy"] - r["confidence"])', 'ece = sum(r["images"] * (r["accuracy"] - r["confidence"])',
     ["22_evaluation.interpret"]),
    ("top losses are the smallest", "22_evaluation.interpret",
     "order = np.argsort(-self.losses, kind=\"stable\")[:k]", "order = np.argsort(self.losses, kind=\"stable\")[:k]",
     ["22_evaluation.interpret"]),
    ("lr_find keeps the weights it trained", "07_training.trainer",
     '        self.model.load_state_dict(saved["model"])\n', "", ["07_training.trainer"]),
    ("comparison shows keys that are the same everywhere", "23_compare",
     "for r in self.runs}) > 1]", "for r in self.runs}) >= 1]", ["23_compare"]),
    ("no progress bar in JupyterLab", "06_training.callbacks",
     'return _in_notebook() and "JPY_SESSION_NAME" in os.environ', "return False", ["24_browser:browser"]),
    ("folds not stratified", "03_data.datasets",
     "StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels)",
     "StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), np.zeros(len(labels)))", ["03_data.datasets"]),
    ("repeats change the test split", "26_cross_validation",
     "            if value is not None: OmegaConf.update(c, key, value)  # these follow ${seed}, and must not\n",
     "            pass\n",
     ["26_cross_validation"]),
    ("a finished run is run again", "10_pipeline",
     "    return metrics if done and \"test_accuracy\" in metrics else None", "    return None", ["26_cross_validation"]),
    ("a resumed search runs n_trials more", "27_search",
     "self.n_trials, self.job_idx = max(wanted - done, 0), len(study.trials)", "self.job_idx = len(study.trials)",
     ["27_search:slow"]),
    ("evaluate tests the val split", "21_evaluate",
     "evaluate_classification(getattr(loaders, split), run.class_names)",
     "evaluate_classification(loaders.val, run.class_names)", ["21_evaluate"]),
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
