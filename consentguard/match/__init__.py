"""Matching: the face index of portrait encodings (nearest students to a face), and name matching
in text."""
