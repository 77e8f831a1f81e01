"""The partner-scale benchmark: ``python bench/run.py --help``."""
