"""Inspection: read a photo completely (image), find and encode faces, read text (OCR) and
metadata. Produces evidence; decides nothing."""
