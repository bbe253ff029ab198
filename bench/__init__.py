"""The settlement benchmark (issue 4 point 8): run `python bench/settlement.py`; see README.md."""
