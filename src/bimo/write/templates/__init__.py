"""Writing task templates (data files)."""
