"""phasegate: a phase-gated optimization workflow engine for PyTorch models."""

__version__ = "0.1.0"
