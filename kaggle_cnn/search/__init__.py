"""Hyperparameter search on hyperopt: YAML spaces (space.py) and studies whose
trials are ordinary runs of the workspace (study.py)."""
