"""Printable auth cards: credit-card-size panels with the member's plugin sections."""
