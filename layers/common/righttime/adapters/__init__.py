"""Adapters: the only modules that talk to AWS. Everything else in righttime is pure."""
