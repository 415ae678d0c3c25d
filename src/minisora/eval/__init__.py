"""The measuring stick: the world analyzer (perception of frames and sound), claims compiled
from prompts, benchmark suites, distribution metrics and reports."""

from minisora.eval.analyzer import Analysis, ObjectView, analyze, analyze_file

__all__ = ["Analysis", "ObjectView", "analyze", "analyze_file"]
