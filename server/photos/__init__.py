"""Member profile photos: validated, re-encoded and shown on the card and check page."""
