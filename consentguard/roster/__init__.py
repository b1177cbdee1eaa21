"""The roster: read an SIS export (mapping, presets, consent meanings), sync it into the database
all or nothing, encode portraits, and keep its history."""
