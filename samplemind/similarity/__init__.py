"""Similarity: standardised aspect vectors, the FAISS index, duplicates and the 2D map."""
