"""Judging: readings into indicator decisions, evidence and the GapReport."""
