"""backup and restore commands."""
