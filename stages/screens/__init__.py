"""Poisoning and safety screens: each flags documents by named rules, with evidence.

Every screen stage adds to two shared columns, ``screen_flags`` (rule names,
``screen.<rule>``) and ``screen_evidence`` (rule and matched span or statistic),
and per rule either drops the document into quarantine (``OUT/quarantine/``,
with its flags and evidence) or keeps it flagged (counted under ``flags`` in
the manifest). ``stages.screens.base`` holds what they share.
"""
