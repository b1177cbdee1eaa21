"""Runners: wire the stages for one photo (Checker, the library API) and for a folder (scan)."""
