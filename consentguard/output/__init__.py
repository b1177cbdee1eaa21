"""Output: reports (human, JSON, CSV, HTML) and safe copies with what caused a verdict hidden."""
