"""Hash banks: named lists of signals, what a match in each does, exchange formats."""
