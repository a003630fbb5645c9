"""Domain records and pure helpers shared by tools/, agents/ and graph/ (imports nothing of theirs)."""
