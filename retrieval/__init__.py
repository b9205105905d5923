"""Retrieval: load reports, cut passages, analyze text, score with BM25, return hits."""
