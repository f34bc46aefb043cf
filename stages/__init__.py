"""Pipeline stages, one module each, registered by their config key."""

from stages.exact_dedup import ExactDedup
from stages.extract import Extract
from stages.langid import LangId
from stages.quality import Quality

STAGES = {stage.name: stage for stage in (Extract, LangId, Quality, ExactDedup)}

__all__ = ["STAGES", "Extract", "LangId", "Quality", "ExactDedup"]
