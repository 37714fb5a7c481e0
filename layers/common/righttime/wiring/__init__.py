"""The composition root: settings, observability, and the one place adapters are built and handed out."""
