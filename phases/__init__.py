"""The phases: diagnostic (3), optimization (4) and finalization (5)."""
