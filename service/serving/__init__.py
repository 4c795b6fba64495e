"""Serving: the one facade the shells get, its jobs, keys, batch runs, exports.

engine (GapLensService, composed of base, uploads, worker, reads and accounts), auth (keys, tenants,
sessions), batch and manifest (batch runs), export, report_table, benchmark, client (gaplens analyze
against a running server).
"""
