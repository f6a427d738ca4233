"""project_name's sweeper as a Hydra plugin: Hydra instantiates sweepers from this package only.

The code is in project_name.search (nbs/66_search.ipynb); this class only hands it to Hydra, and
imports it (and Optuna) when a sweep starts, not when Hydra looks for plugins.
"""
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper


class ResumableOptunaSweeper(OptunaSweeper):
    "Hydra's Optuna sweeper, its study in the sweep folder, continued by running the same command again."
    def __init__(self, *args, **kwargs):
        from project_name.search import ResumableOptunaSweeperImpl
        self.sweeper = ResumableOptunaSweeperImpl(*args, **kwargs)
