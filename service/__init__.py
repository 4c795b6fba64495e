"""GapLens: SDG and OECD due-diligence gap analysis of sustainability reports."""

__version__ = "0.1.0"
