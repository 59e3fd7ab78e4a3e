"""Plugin system: hook specifications, contracts, the manager and the built-in plugins."""
