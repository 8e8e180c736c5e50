"""What a rider's turn asks for: symptom, setting (how much / what value), ok_for (is X ok for Y), select (which BMS),
compare (X vs Y), what (what is / how does), followup (a short turn that leans on the previous one).

Plain, bounded regular expressions over the lowered text plus the facts understood from it (engine.understand);
the first kind that fits wins, in the order of `classify`.
"""

from __future__ import annotations

import re
from typing import Any

_COMPARE = re.compile(r"\b(vs\.?|versus|or|compared? (?:to|with)|better than|difference between|which is better|"
                      r"better|instead of|over|swap\w* (?:\w+ ){0,3}(?:for|to|with)|replac\w* (?:\w+ ){0,3}(?:with|by)|"
                      r"switch\w* (?:\w+ ){0,3}(?:from|to)|mov\w* from|upgrad\w* (?:\w+ ){0,3}(?:from|to))\b")
# "what do we gain?" after two families were named: the comparison of those two
GAIN = re.compile(r"\b(gain|benefits?|advantages?|upside|worth it|what changes|what'?s different|difference|"
                  r"improve\w*|better)\b")
_VS_GENERIC = re.compile(r"\b(vs\.?|versus|compared (?:to|with)|or|instead of)\b[^.?!]{0,25}\b(normal|regular|full|proper|"
                         r"standard|usual|ordinary|full-protection|discharge fets?)\b[^.?!]{0,12}\b(bms|board|one)\b|"
                         r"\b(normal|regular|full|proper|standard)\s(?:smart\s)?(bms|board)\b[^.?!]{0,20}\b(vs\.?|versus|or)\b")
_SELECT = re.compile(r"\bneed something for (?:a |an |my |our )?\d{1,2}\s?s\b|"
                     r"\b(which|best|recommend\w*|suggest\w*|choose|pick|should i (?:buy|get|use|go with)|"
                     r"need an?|looking for an?|want an?|want the|need the|shopping for)\b[^.?!]{0,40}\b(bms|board|one|family)\b|"
                     r"\bwhat (?:bms|board|smart bms|kind of bms|brand)\b|\bwhat'?s the (?:best |right )?(?:bms|board)\b|"
                     r"\bwhats a good (?:bms|board)\b|\b(?:cheapest|cheap|budget|smallest|best|good) (?:smart )?(?:bms|board)s? "
                     r"(?:that|which|to|for|i can)\b|"
                     r"\bbms (?:for|to use|to get|to buy)\b|\bselect\w*\b.{0,20}\bbms\b|\bwhat should i (?:buy|get)\b")
_OK_FOR = re.compile(r"\b(?:gonna|going to) (?:cut it|do it|handle|work|manage)\b|"
                     r"\b(is|are|would|will|can|could|does|do)\b[^.?!]{0,40}\b(ok|okay|good|fine|enough|suitable|safe|"
                     r"handle|work|cope|able|support|do it|up to|manage|alright|right)\b|\b(ok|okay|good|fine|safe|enough)"
                     r"\s+for\b|\bwill one\b|\bcan (?:we|i|you) (?:still |just |safely )?(?:run|use|get away with|go with|fit|put) (?:a|an|the|my|our|two|one)\b|\b(ok|okay|fine|good|enough)\s*\?|\bcan (?:it|one|a|an|the|my)\b[^.?!]{0,25}\b(handle|take|run|do)\b|\bcan (?:\w+ ){1,2}(?:do|handle|take|run|support) \d")
_SETTING = re.compile(r"\b(what|which|how much|how many|how low|how high|recommended|ideal|best)\b[^.?!]{0,40}"
                      r"\b(set|setting|settings|value|limit|trigger|voltage|current|amps|threshold|cap|start|ceiling|"
                      r"should)\b|\bshould i set\b|\bwhat (?:to|do i) set\b|\bset (?:it|my|the) \w+ to\b|"
                      r"\bhow much\b|\bwhat (?:regen|trigger|delta|ocp|cutoff|charge)\b")
_HOW_MUCH = re.compile(r"^\W*(?:(?:ok|okay|so|and|then|well|right)\W+){0,2}(?:what|how much|how many|how high|how low)\b"
                       r"(?! (?:about|if)\b)")
_WHAT = re.compile(r"^\s*(what|how|why|where|when|does|do|is|are|can|should|explain|tell me)\b")
_FOLLOW = re.compile(r"^\s*(and|also|so|ok|okay|what about|how about|why not|what if|and if|same for|and for|and on|and with|"
                     r"then|but|it'?s|its|it is|mine is|i have|no,?|yes,?|yeah|nah)\b")
_SYMPTOM = re.compile(r"\b(won'?t|wont|not|no|never|doesn'?t|doesnt|isn'?t|stopped|keeps?|keeps cutting|cuts?|cutting|"
                      r"shuts?|shutting|dies|died|dead|dark|trip\w*|hot|smell\w*|smok\w*|burn\w*|wrong|stuck|freez\w*|"
                      r"frozen|error|fault|problem|issue|fail\w*|broke\w*|weird|bogus|nonsense|sag\w*|drain\w*|"
                      r"jump\w*|drops?|dropping|lost|missing|fried|blew|blown|killed)\b")


def classify(text: str, facts: dict[str, Any], has_context: bool = False) -> str:
    low = " " + (text or "")[:4000].lower() + " "
    fams = facts.get("families") or []
    if len(fams) >= 2 and _COMPARE.search(low):
        return "compare"
    if fams and _VS_GENERIC.search(low):
        return "compare"  # "charge-only bms vs a normal smart bms": one family against the usual kind
    if _SELECT.search(low) and not re.search(r"\bbypass\w*|\bdefeat\w*|\bjump(?:er)? (?:out|the)\b|"
                                             r"\bwhich (?:cell|fet|setting|value|lead|wire|pin)\b|"
                                             r"(?<!bms )(?<!board )(?<!one )\bdo i (?:even |really )?need\b", low):
        if fams and _OK_FOR.search(low):
            return "ok_for"
        return "select"
    words = re.findall(r"[a-z0-9']+", low)
    if has_context and (_FOLLOW.match(low) or len(words) <= 4):
        return "followup"
    if _HOW_MUCH.match(low) and _SETTING.search(low):
        return "setting"  # "ok so what regen current is safe": a value asked for, not a verdict on a board
    if _OK_FOR.search(low) and (fams or facts.get("series") or facts.get("continuous")):
        return "ok_for"
    if _OK_FOR.search(low) and re.search(r"\b(bms|board|boards|one)\b", low) and \
            re.search(r"\b(pack|build|battery|scooter|ebike|bike)\b", low) and not _SYMPTOM.search(low):
        return "select"  # "big pack, will one bms handle it": which one depends on the series and the current
    if fams and (facts.get("series") or facts.get("continuous")) and re.search(
            r"\b(want to|going to|gonna|plan(?:ning)? to|thinking of|about to|would like to)\s(use|put|run|fit|get|try)", low):
        return "ok_for"  # "i want to use a daly on my 20s 100a build"
    if fams and (facts.get("series") or facts.get("continuous")) and re.search(r"\bfor (?:a |my |an )?\d{1,3}\s?[sa]\b", low):
        return "ok_for"
    if fams and (facts.get("series") or facts.get("continuous")) and \
            re.match(r"^\s*(can|is|will|would|does|do|could|should)\b", low) and not _SETTING.search(low) and \
            not any(k in facts for k in ("cell_voltage", "pack_voltage", "cell_delta", "charge_target")):
        return "ok_for"
    if _SETTING.search(low):
        return "setting"
    if _SYMPTOM.search(low) and not _WHAT.match(low):
        return "symptom"
    if _WHAT.match(low):
        return "what" if not _SYMPTOM.search(low) else "symptom"
    return "symptom" if _SYMPTOM.search(low) else "what"
