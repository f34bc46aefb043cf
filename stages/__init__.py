"""Pipeline stages, one module each, registered by their config key."""

from stages.c4_lines import C4Lines
from stages.exact_dedup import ExactDedup
from stages.extract import Extract
from stages.fineweb_quality import FinewebQuality
from stages.gopher_quality import GopherQuality
from stages.gopher_repetition import GopherRepetition
from stages.langid import LangId
from stages.langid_prefilter import LangIdPrefilter
from stages.line_dedup.stage import LineDedup
from stages.minhash import MinHashDedup
from stages.policy import Policy
from stages.quality_model import QualityModel
from stages.screens.blocklist import BlocklistScreen
from stages.screens.decontamination import DecontaminationScreen
from stages.screens.gibberish import GibberishScreen
from stages.screens.hidden_html import HiddenHtmlScreen
from stages.screens.injection import InjectionScreen
from stages.screens.invisible import InvisibleScreen
from stages.screens.pii import PiiScreen
from stages.screens.trigger_bursts import TriggerBurstScreen
from stages.screens.url_changes import UrlChangeScreen
from stages.spam_injection import SpamInjection
from stages.spam_lexicon import SpamLexicon
from stages.spam_model import SpamModel
from stages.spam_name_bursts import SpamNameBursts
from stages.to_simplified import ToSimplified
from stages.zh_quality import ZhQuality

STAGE_CLASSES = (
    LangIdPrefilter,
    Extract,
    LangId,
    C4Lines,
    Policy,
    ZhQuality,
    GopherQuality,
    GopherRepetition,
    FinewebQuality,
    SpamLexicon,
    SpamInjection,
    SpamModel,
    QualityModel,
    ToSimplified,
    BlocklistScreen,
    HiddenHtmlScreen,
    InjectionScreen,
    InvisibleScreen,
    GibberishScreen,
    PiiScreen,
    DecontaminationScreen,
    ExactDedup,
    LineDedup,
    UrlChangeScreen,
    TriggerBurstScreen,
    SpamNameBursts,
    MinHashDedup,
)
STAGES = {stage.name: stage for stage in STAGE_CLASSES}

__all__ = ["STAGES", "STAGE_CLASSES"]
