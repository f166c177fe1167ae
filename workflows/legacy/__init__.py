"""Frozen workflow code that running histories replay on (see each module)."""
