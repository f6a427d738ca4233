"""project_name's sweeper as a Hydra plugin: Hydra instantiates sweepers from this package only.

The code is in project_name.search (nbs/66_search.ipynb); this class only hands it to Hydra, and
imports it (and Optuna) when a sweep starts, not when Hydra looks for plugins.
"""
from hydra.plugins.sweeper import Sweeper


class OptunaSweeper(Sweeper):
    "The project's Optuna sweeper: ask-and-tell, a study several workers share, kill-proof, with pruning."
    def __init__(self, **settings):
        from project_name.search import OptunaSearch
        self.search = OptunaSearch(**settings)

    def setup(self, *, hydra_context, task_function, config):
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments):
        return self.search.sweep(arguments)
