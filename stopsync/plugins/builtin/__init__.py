"""Built-in plugins: the data sources and matching stages stopsync ships with."""
