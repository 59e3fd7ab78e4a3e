"""API v1 tests: every endpoint on both backends with the published real sample."""
