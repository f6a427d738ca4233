"""Train from the command line: `python scripts/train.py key=value ...` (the same as `python -m project_name.train`)."""
from project_name.train import cli

if __name__ == "__main__":
    cli()
