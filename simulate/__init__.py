"""`make simulate`: a seeded fault simulation of the money path (simulate/engine.py)."""
