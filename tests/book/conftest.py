"""Checks on the built book: run after `scripts/build-book.sh` (the test script does)."""
