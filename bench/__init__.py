"""Benchmarks: each ``bench/bNN_name.py`` exposes ``run(quick: bool = False) -> dict``.

``python -m bench [--quick] [--only b1,b3]`` runs them and writes ``results.json`` and
``results.md`` beside this file (see ``bench/README.md``).
"""
