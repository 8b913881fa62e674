"""PLACEHOLDER (replaced by the parallel work)."""
