"""GapLens: SDG and OECD due-diligence gap analysis of sustainability reports.

The packages, in data-flow order (each imports only those before it; pyproject.toml's import-linter
contracts check it): records, errors, frameworks, logs (the base); reading (PDF to passages); encoding
(passages to vectors, the index); settings; classifiers (top-level package) and judging (readings to
decisions and the GapReport); pipeline (the ordered stages) and store (persistence); serving (the facade
the shells get, jobs, batch runs); the shells http, api, web, app and cli.
"""

__version__ = "0.1.0"
