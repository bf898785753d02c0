"""Ingestion: load → clean → split → index. Owns the index (Chroma collection, BM25, manifest)."""
