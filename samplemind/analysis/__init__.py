"""Analysis: Essentia feature extraction, embedded metadata, and the worker pool."""
