"""Shared helpers for the runhive comparative benchmark (bench/run.py and bench/workloads.py).

Everything here must import with the standard library and psutil only: the same modules run inside every
tool's own virtualenv.
"""
