"""Breeze Proxy benchmark: ``python -m bench`` (or ``bash bench/run.sh``) prints one table.

See ``bench/__main__.py`` for what is measured and in which order.
"""
