"""Words for matching shared by the diagnosis flows' symptom matching and the chat's retrieval: stop words, a crude
stemmer and the tokenizer. Light on purpose (re only), so the chat's fast path does not import the KB models."""

from __future__ import annotations

import re

STOP = frozenset("""a an the my is it its it's i im i'm me when while of on in at to and or but with after
before does doesnt doesn't not no do did was were be been has have had this that there from for by up so
just very too keeps keep get gets got what why how out scooter ebike e-bike bike""".split())
# Everyday words a typo fixer must leave alone ("doing" is not "dying", "going" not "gauge").
COMMON = frozenset("""about above after again against also always another anything around asked asking because been
before being below between both bought building came cannot could doing does done down during each either else
enough even ever every everything first from getting give given going gone good great have having here however into
just keep kind know last least left less like little long looking made make many maybe mean might more most much
must need never next nothing now often once only other over people pretty probably quite rather really right said
same says seems should since some something still such sure take taking than that their them then there these
they thing things think this those though through today tomorrow tonight trying under until using very want wanted
wants week weeks well went were what when where whether which while will with without work working works would
yesterday your""".split())
TOKEN = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")  # separators between runs: linear on any input


def stem(w: str) -> str:
    """Crude, but enough to meet 'braking' and 'brake', 'charged' and 'charge'."""
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 2 and w.endswith(suf):
            w = w[: -len(suf)]
            break
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def tokens(text: str) -> list[str]:
    return [stem(t) for t in TOKEN.findall(text.lower()) if t not in STOP]


# Rider shorthand too short for typo correction (which needs 4+ letters), spelled out before the chat reads a turn.
SHORTHAND = {
    "wat": "what", "wot": "what", "wht": "what", "wut": "what", "wats": "whats", "wich": "which", "wic": "which",
    "whch": "which", "hw": "how", "shud": "should", "shld": "should", "shoud": "should", "cud": "could",
    "wud": "would", "r": "are", "u": "you", "ur": "your", "n": "and", "abt": "about", "tho": "though",
    "thru": "through", "pls": "please", "plz": "please", "b4": "before", "bc": "because", "cuz": "because",
    "coz": "because", "ppl": "people", "smth": "something", "sth": "something", "dis": "this", "da": "the",
    "batt": "battery", "bat": "battery", "cont": "continuous", "contin": "continuous", "continous": "continuous",
    "continious": "continuous", "ya": "yes", "yh": "yes", "nah": "no",
}
_SHORT = re.compile(r"(?<![\w.'/-])(" + "|".join(re.escape(k) for k in sorted(SHORTHAND, key=len, reverse=True)) +
                    r")(?![\w'/-])", re.I)


def spell_out(text: str) -> str:
    """'wat gauge r the jk busbars' -> 'what gauge are the jk busbars' (whole words only; numbers untouched)."""
    return _SHORT.sub(lambda m: SHORTHAND[m.group(1).lower()], text)
