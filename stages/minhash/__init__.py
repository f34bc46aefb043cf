"""MinHash LSH near-duplicate removal: the stage (``stage``), its signatures and band keys
(``signatures``) and its global phases (``phases``)."""

from stages.minhash.signatures import exact_jaccard
from stages.minhash.stage import MinHashDedup, MinHashDedupConfig, describe_bands

__all__ = ["MinHashDedup", "MinHashDedupConfig", "describe_bands", "exact_jaccard"]
