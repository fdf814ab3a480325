"""Hamming-distance search over 256-bit hashes (PDQ and vPDQ frames)."""
