"""Threads on a busy machine: the default experiment's epochs with `training.num_threads=auto`
against torch's default, on a quiet machine and with other processes burning every core.

    uv run python benchmarks/threads.py              # 5 epochs a variant, as many burners as CPUs
    uv run python benchmarks/threads.py --epochs 3 --burners 2

Each variant is the command line in its own process (`python -m project_name.train`, W&B off,
progress lines), with no OMP_NUM_THREADS in its environment, so that the thread policy decides;
`training.num_threads=null` leaves torch's default (one thread per core). A burner is a Python
process that spins (`while True: pass`), started before the loaded variants and stopped after
them. The table gives each variant's threads (from the run's log) and the median of its epochs'
times (from its progress lines), and each against the quiet machine with `auto`.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPOCH = re.compile(r"^epoch \d+/\d+ .*\((\d+(?:\.\d+)?)s\)$", re.M)
THREADS = re.compile(r"Threads: (\d+) \((.*)\)")

def run(setting: str, epochs: int, out: Path) -> tuple[int, str, float]:
    "The threads and the median epoch time of one run of the default experiment with training.num_threads=`setting`."
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")} | {"WANDB_MODE": "disabled"}
    p = subprocess.run([sys.executable, "-m", "project_name.train", f"training.epochs={epochs}", f"training.num_threads={setting}",
                        "callbacks.progress.style=lines", "logger.wandb.mode=disabled", "~callbacks.early_stopping",
                        f"paths.output_dir={out}"], cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode: raise SystemExit(f"training.num_threads={setting} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    threads = THREADS.search(p.stdout)
    return int(threads[1]), threads[2], statistics.median(float(t) for t in EPOCH.findall(p.stdout))

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--burners", type=int, default=os.cpu_count())
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for machine in ("quiet", "loaded"):
            burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burners if machine == "loaded" else 0)]
            try:
                for setting in ("auto", "null"):
                    threads, why, epoch = run(setting, args.epochs, Path(d)/f"{machine}_{setting}")
                    rows.append((machine, setting, threads, why, epoch))
                    print(f"  {machine} {setting}: {threads} thread(s), median epoch {epoch:.2f} s", file=sys.stderr)
            finally:
                for b in burners: b.kill()
    base = rows[0][4]
    print(f"\nThe default experiment (digits, small_cnn, batch 64), {args.epochs} epochs a run, {os.cpu_count()} CPUs; "
          f"loaded: {args.burners} spinning process(es)\n")
    print("| machine | training.num_threads | threads | median epoch (s) | vs quiet auto |")
    print("|---|---|---:|---:|---:|")
    for machine, setting, threads, why, epoch in rows:
        print(f"| {machine} | {setting} | {threads} | {epoch:.2f} | {epoch / base:.1f}x |")

if __name__ == "__main__":
    main()
