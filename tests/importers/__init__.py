"""REFI-QDA importers that are not fieldvault's, in a venv of their own (see venv.py)."""
