"""Shared kernel: ids, clock, errors and change events. No I/O, stdlib only."""
