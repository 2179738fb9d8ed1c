"""Measured prototypes of hot-path fixes (copies; the real code lives in stream/)."""
