"""An example gmat-sweep backend (see plugin.py and pool.py)."""
