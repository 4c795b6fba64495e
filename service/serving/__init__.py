"""Serving: the one facade the shells get, its jobs, keys, batch runs, exports."""
