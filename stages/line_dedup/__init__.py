"""Cross-document line and paragraph dedup (issue 16): boilerplate lines found by their spread
across domains and pages of one domain. ``lines``: the units counted and how they are compared."""
