"""The data pipeline: sources -> records -> matches -> problems -> snapshot. No Flask inside the engine."""
