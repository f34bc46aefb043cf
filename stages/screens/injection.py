"""Prompt-injection phrases and chat-template tokens in web text.

Rules:
- ``screen.prompt_injection``: instructions aimed at a model reading the page,
  in English and Chinese ("ignore all previous instructions", 忽略之前的所有指令,
  你现在扮演 ..., "you are now DAN"). Such text teaches a model to obey
  instructions found in data.
- ``screen.chat_template``: special tokens of chat formats (``<|im_start|>``,
  ``<|endoftext|>``, ``[INST]``, ``<<SYS>>``, ``<s>``, Llama 3 headers). In
  pretraining text they make fake turn boundaries; ``template_action: strip``
  removes them and keeps the document.

Evidence is the matched span with some context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from curate.decoded_columns import column_values
from stages.screens.base import Action, Finding, ScreenStage

INJECTION_PATTERNS = (
    # English
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?(?:previous|prior|above|earlier|preceding|former)\s+(?:instructions?|prompts?|rules|directions|guidelines)",
    r"\byou\s+are\s+now\s+(?:dan|in\s+developer\s+mode|an?\s+unrestricted|jailbroken)",
    r"\b(?:reveal|print|repeat|show)\s+(?:your|the)\s+(?:system\s+prompt|hidden\s+instructions|initial\s+instructions)",
    r"\bdo\s+anything\s+now\b",
    r"\bnew\s+instructions?\s*:\s*(?:you|ignore|from\s+now)",
    # Chinese (Simplified and Traditional)
    r"(?:忽略|忽視|忽视|无视|無視|忘记|忘記|不要理会|不要理會)(?:掉)?(?:你)?(?:之前|以上|上面|前面|上述|先前|此前|所有)(?:的)?(?:所有|全部|一切)?(?:的)?(?:指令|指示|提示|提示词|提示詞|规则|規則|设定|設定|要求)",
    r"你(?:现在|現在|从现在开始|從現在開始)(?:要)?(?:扮演|充当|充當)",
    r"(?:请|請)?(?:输出|輸出|告诉我|告訴我|显示|顯示)(?:你的)?(?:系统提示|系統提示|系统指令|系統指令|初始指令)",
    r"(?:进入|進入)(?:开发者|開發者|无限制|無限制|越狱|越獄)模式",
)
TEMPLATE_TOKENS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "<s>",
    "</s>",
    "<|fim_prefix|>",
    "<|fim_suffix|>",
    "<|fim_middle|>",
)
_INJECTION = re.compile("|".join(f"(?:{p})" for p in INJECTION_PATTERNS), re.IGNORECASE)
_TEMPLATE = re.compile("|".join(re.escape(token) for token in TEMPLATE_TOKENS))
_CONTEXT = 40


@dataclass
class InjectionScreenConfig:
    action: Action = "drop"
    """For ``screen.prompt_injection``. Our choice: injection text has no place in training data."""
    template_action: Literal["drop", "flag", "strip"] = "strip"
    """For ``screen.chat_template``: strip the tokens (keep the text), or drop, or only flag."""


def _span(text: str, match: re.Match) -> str:
    return text[max(0, match.start() - _CONTEXT) : match.end() + _CONTEXT].replace("\n", " ")


class InjectionScreen(ScreenStage):
    name = "screen_injection"
    config_class = InjectionScreenConfig
    reads = ("text",)
    writes = ScreenStage.writes + (pa.field("text", pa.string()),)

    def action_of(self, rule: str, evidence: str = "") -> str:
        if rule == "screen.chat_template":
            return "flag" if self.config.template_action == "strip" else self.config.template_action
        return self.config.action

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        texts = column_values(batch, "text")
        findings, out_texts = [], []
        for text in texts:
            text = text or ""
            found: list[Finding] = []
            injection = _INJECTION.search(text)
            if injection:
                found.append(("screen.prompt_injection", _span(text, injection)))
            tokens = list(_TEMPLATE.finditer(text))
            if tokens:
                found.append(
                    (
                        "screen.chat_template",
                        f"{len(tokens)} tokens: " + " … ".join(_span(text, m) for m in tokens[:3]),
                    )
                )
                if self.config.template_action == "strip":
                    text = _TEMPLATE.sub("", text)
            findings.append(found)
            out_texts.append(text)
        return findings, {"text": out_texts}
