"""cungdan operator tools: run the stack, load demo data, status, test and benchmark helpers."""
