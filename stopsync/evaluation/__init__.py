"""Evaluation of the matching engine against generated instances with ground truth.

``generator`` builds a national-size ATLAS export, an OSM file and the true links between them
from the real Swiss service points; ``metrics`` scores a ``matches.csv`` against that truth;
``cli`` exposes both as ``flask pipeline generate`` / ``flask pipeline evaluate``.
"""

from __future__ import annotations

from .generator import GeneratedInstance, generate
from .metrics import EvaluationReport, evaluate, format_report

__all__ = ["EvaluationReport", "GeneratedInstance", "evaluate", "format_report", "generate"]
