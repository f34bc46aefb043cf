"""curate: pretraining data curation for Chinese web corpora."""

__version__ = "0.1.0"
