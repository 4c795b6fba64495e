"""Judging: readings into indicator decisions, evidence and the GapReport.

substance (evidence type), dd_tags (issues, value chain, concrete cases), negative (negative evidence),
rubric (due-diligence indicators), sdg_ladder, views (regulatory views), coverage, gap, scoring (the
GapReport), evidence (the passages behind a label).
"""
