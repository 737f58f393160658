"""Test vectors shared by the Python tests and the browser tests (see each script)."""
