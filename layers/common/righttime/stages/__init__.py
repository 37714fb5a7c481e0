"""The use cases, one per pipeline stage. They depend on the ports in `ports.py`, never on an adapter."""
