"""Marshal check: signed check codes, the live check page, the check log and the scanner."""
