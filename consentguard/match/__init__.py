"""Stage 2 and 4, matching: the face index of portrait encodings, and name matching in text."""
