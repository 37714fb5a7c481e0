"""Developer tooling for righttime (the `righttime` command): local mode, simulation, validation.

Never part of the Lambda layer: it is installed by `pip install -e .` next to the `righttime` package.
"""
