"""Find the final answer in a response: the last <Answer>, else boxes, `####`, "the answer is", the last math.

    .venv/bin/python -c "from supercorrect.grading.extract import extract_answer; print(extract_answer('so the total is 14.'))"

The order of the rules and why is in docs/grading.md.
"""

from __future__ import annotations

import re

from supercorrect.grading.normalize import (Answer, ANSWER_IS, ANSWER_TAG, ascii_digits, BOX_JOINER, CJK,
                                            clean, ENVIRONMENT, find_boxes, GSM8K, LABEL_BEFORE_BOX, LATEX_CMD,
                                            looks_bare, SPECIAL_TOKEN, squash, TEXT_WRAPPERS, unit_name,
                                            unwrap_command)

def _math_segments(text: str) -> list[tuple[int, int, str]]:
    """(start, end, body) of inline and display math: `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]`.

    A `$` whose would-be body reads as prose ("$5 and $6") is a dollar sign, not math.
    """
    found = []
    for m in re.finditer(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", text, re.S):
        found.append((m.start(), m.end(), m.group(1) if m.group(1) is not None else m.group(2)))
    for m in _DISPLAY_ENV.finditer(text):
        found.append((m.start(), m.end(), m.group(2)))
    i = 0
    while (start := text.find("$", i)) != -1:
        if start > 0 and text[start - 1] == "\\":
            i = start + 1
            continue
        delim = "$$" if text.startswith("$$", start) else "$"
        end = start + len(delim)
        while (end := text.find(delim, end)) != -1 and text[end - 1] == "\\":
            end += 1
        if end == -1:
            break
        body = text[start + len(delim) : end]
        bare = re.sub(r"\\(?:begin|end)\s*\{[^{}]*\}", " ", unwrap_command(body, TEXT_WRAPPERS))
        prose = re.findall(r"(?<![\\A-Za-z])[A-Za-z]{3,}", bare)
        if body.strip() and (delim == "$$" or (len(prose) <= 1 and "\n\n" not in body)):
            found.append((start, end + len(delim), body))
            i = end + len(delim)
        else:  # a currency sign: skip it and look for math after it
            i = start + 1
    return sorted(found)


# Display environments outside `$`, aligned derivations inside them, and Asymptote figures.
_DISPLAY_ENV = re.compile(r"\\begin\s*\{((?:align|equation|gather|eqnarray|multline)\*?)\}(.+?)\\end\s*\{\1\}", re.S)
_ALIGN_WRAPPER = re.compile(
    r"\\(?:begin|end)\s*\{(?:aligned|gathered|split|(?:align|equation|gather|eqnarray|multline)\*?)\}")
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.S)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*>")  # template tags: the 1 of <Step1> is no answer
_NUM = r"[-+\u2212]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_NUM_TOKEN = re.compile(r"(?P<num>" + _NUM + r"(?:/\d+(?:\.\d+)?)?)(?P<pct>\s*%)?"
                        r"(?P<unit>[A-Za-z]+(?:/[A-Za-z]+)?|/[A-Za-z]+)?(?P<pow>\^[23])?\.?")
_RELATION = {"<", ">", "<=", ">=", "≤", "≥", "\\le", "\\leq", "\\lt", "\\ge", "\\geq", "\\gt", "\\neq", "≠"}
_OPENERS, _CLOSERS = "([{", ")]}"


def _prose_answer(prose: str, tokens: list[re.Match], k: int) -> str:
    """What token k (which holds a digit) says, read with its neighbours.

    A bare number is that number, with a glued ("12.5cm") or following ("10 cm") unit; a
    token with more in it ("5x", "2^{10}", "\\sqrt{7}") is itself the answer, so no digit
    is ever cut out of an expression; "x < 3" is an inequality, not 3.
    """
    tok = tokens[k].group(0)
    t = tok.rstrip(".,;:!?")
    t = re.sub(r"^(?:\\\$|\$|€|£)|(?:\$|€|£)$", "", t)
    # A closing bracket with no opener in the token closes a group that began earlier.
    while t and t[-1] in _CLOSERS and t.count(t[-1]) > t.count(_OPENERS[_CLOSERS.index(t[-1])]):
        closer = t[-1]
        start = prose.rfind(_OPENERS[_CLOSERS.index(closer)], 0, tokens[k].start())
        group = prose[start : tokens[k].start() + len(t)] if start != -1 else ""
        if group and "\n" not in group and len(group) < 60 and "," in group:
            return group
        t = t[:-1]
    t = t.lstrip("([{") if t[:1] in _OPENERS and t.count(t[0]) > t.count(_CLOSERS[_OPENERS.index(t[0])]) else t
    if "=" in t and re.search(r"\d", t.rsplit("=", 1)[1]):
        t = t.rsplit("=", 1)[1]  # a worked step in prose ("10x6=60") ends in its value
    m = _NUM_TOKEN.fullmatch(t)
    if m is None:
        return t  # an expression: returned whole
    num = m["num"]
    prev = [tokens[j].group(0) for j in range(max(0, k - 2), k)]
    if m["unit"]:
        if unit_name(m["unit"]):
            return f"{num}\\text{{ {m['unit'].rstrip('.')}}}{m['pow'] or ''}"
        # In prose, letters glued to a number that name no unit we know are still a unit or a
        # suffix ("72Mb", "2/hour", "3rd"); one letter ("5x") makes an expression.
        return num if len(m["unit"].strip("/.")) > 1 else t
    if prev and prev[-1] in _RELATION:
        return f"{prev[0] if len(prev) > 1 else ''} {prev[-1]} {num}".strip()
    if "/" not in num and len(prev) == 2 and prev[-1] == "/" and re.fullmatch(r"\d+", prev[0]):
        return f"{prev[0]}/{num}"  # "3 / 4"
    if re.fullmatch(r"\d+/\d+", num) and prev and re.fullmatch(r"\d+", prev[-1]):
        return f"{prev[-1]} {num}"  # mixed number "4 2/3"
    out = num + ("%" if m["pct"] else "")
    after = tokens[k + 1].group(0).rstrip(".,;:!?") if k + 1 < len(tokens) else ""
    if not m["pct"] and after and unit_name(after):
        return f"{out}\\text{{ {after}}}"
    return out


def _prose_numbers(text: str, last: bool) -> str | None:
    """The last (or first) number-bearing token of prose text, read by _prose_answer."""
    prose = CJK.sub(" ", text)
    tokens = list(re.finditer(r"\S+", prose))
    order = range(len(tokens) - 1, -1, -1) if last else range(len(tokens))
    for k in order:
        if re.search(r"\d", tokens[k].group(0)):
            got = clean(_prose_answer(prose, tokens, k))
            if got:
                return got
    return None


def _segment_answer(body: str) -> str:
    """The answer a math span ends on: the last row of an aligned derivation, chain-cut."""
    body = _ALIGN_WRAPPER.sub(" ", body)
    if "\\begin" not in body:
        rows = [row for row in re.split(r"\\\\", body) if row.strip()]
        body = (rows[-1] if rows else body).replace("&", " ")
    body = re.sub(r"^(?:\s*(?:=|\\(?:Rightarrow|Longrightarrow|implies|therefore|q?quad)(?![A-Za-z])))+", "", body)
    return clean(body)


def _outside_math(text: str, segments: list[tuple[int, int, str]] | None = None) -> str:
    """text with its math spans blanked out, positions kept: the prose around the math."""
    prose = list(text)
    for start, end, _ in _math_segments(text) if segments is None else segments:
        prose[start:end] = " " * (end - start)
    return "".join(prose)


def _last_number(text: str) -> str | None:
    """The answer a response ends on when it names none: its last math or its last number.

    Whichever comes later wins: the last math span (taken whole, so `$x^{2}$` is x^2, not 2;
    a span that is one letter, as in "the value of $x$", only names a variable) or the
    last number-bearing token of the prose around the math. Asymptote figures are skipped.
    """
    text = _TAG.sub(" ", _ASY.sub(" ", text))
    segments = _math_segments(text)
    prose_text = _outside_math(text, segments)
    answers = [seg for seg in segments if not re.fullmatch(r"\s*[A-Za-z]\s*", seg[2])]
    last_seg = max(answers, key=lambda seg: (seg[1], seg[0])) if answers else None
    tail = prose_text[last_seg[1]:] if last_seg else prose_text
    if re.search(r"\d", tail):
        got = _prose_numbers(tail, last=True)
        if got:
            return got
    if last_seg is not None:
        return _segment_answer(last_seg[2]) or None
    return None


def _substantive(ans: str) -> bool:
    """An answer a later cue can override a box with: a number, some math, or a choice letter."""
    return bool(re.search(r"\d|\\[A-Za-z]|[=^()]", ans) or re.fullmatch(r"\(?[A-Za-z]\)?", ans))


def _cue_leads_with_value(text: str, cue: re.Match) -> bool:
    """True if what follows the cue starts with a value, not prose ("the answer is correct")."""
    tail = text[cue.end() :].split("\n", 1)[0]
    tail = re.sub(r"^\s*(?:therefore|thus|then|now|actually|indeed|just|simply)\b[\s,:]*", "", tail, flags=re.I)
    first = tail.split(None, 1)[0] if tail.split() else ""
    return bool(re.search(r"\d|\$|\\|^\(?[A-Za-z]\)?[.,]?$", first))


# The verb that joins a named quantity to its value: "The largest $n$ is 34", "每份应该是 2/5 吨".
_COPULA = re.compile(r"\b(?:is|are|was|equals|est|sont|es|ist)\b|是|为|هو|هي", re.I)


def _from_cue(text: str, cue: re.Match) -> str | None:
    tail = text[cue.end() :].split("\n", 1)[0]
    # The sentence ends at a period followed by a space or the end ("3.5" survives), or at "。";
    # the statement ends where a comma starts a clause ("12, since 3 \cdot 4 = 12").
    sentence = re.split(r"\.(?:\s|$)|。", tail, maxsplit=1)[0]
    return _from_statement(re.split(r",\s+(?!(?:and|or)\b)(?=[A-Za-z]{3,})", sentence, maxsplit=1)[0], copula=True)


def _from_statement(sentence: str, copula: bool) -> str | None:
    """The value a sentence states: its leading math, the sentence itself when it is an answer
    ("18 dollars"), what follows its last "is" ("The largest $n$ is 34"), its first math that is
    more than a variable's name, or its first number."""
    # Prefer inline math right at the start: `the answer is $\frac{1}{2}$.`
    math = re.match(r"\s*(?:\$+|\\\(|\\\[)(.+?)(?:\$+|\\\)|\\\])", sentence)
    if math:
        return clean(math.group(1)) or None
    if _NUM_TOKEN.fullmatch(sentence.strip()):  # prose: `4.8cm` is 4.8 cm
        return _prose_numbers(sentence, last=False)
    cand = clean(sentence)
    if cand and looks_bare(cand):
        return cand
    segments = _math_segments(sentence)
    if copula:  # an "is" inside math (`\text{is}`) is not the sentence's
        verbs = list(_COPULA.finditer(_outside_math(sentence, segments)))
        if verbs and (got := _from_statement(sentence[verbs[-1].end() :], copula=False)):
            return got
    segments = [seg for seg in segments if not re.fullmatch(r"\s*[A-Za-z]\s*", seg[2])]
    if segments:
        return clean(segments[0][2]) or None
    return _prose_numbers(sentence, last=False)


# `\boxed{1} papers and \boxed{2} bins`, `\boxed{(3,3)} \text{ for part (a) and } \boxed{(1,1)}`: a
# few words that end in "and" still join two boxes; "\boxed{3}, finally \boxed{4}" does not.
_NOUNS_AND = re.compile(r"(?:\s|\$|\\[()]|,)*(?:\\text\s*\{)?\s*(?:[A-Za-z()]+\s+){1,4}(?:and|or)\s*\}?(?:\s|\$|\\[()])*")


def _box_group(text: str, boxes: list[tuple[int, int, str]]) -> str | None:
    """The last box, joined by the boxes just before it when only commas or "and" divide them.

    `x = \\boxed{1}, y = \\boxed{2}` is the answer `x = 1, y = 2`; `\\boxed{3}, finally
    \\boxed{4}` is 4 (the later box replaced the earlier).
    """
    group = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        between = text[prev[1] : group[0][0]]
        between = LABEL_BEFORE_BOX.sub("", between)
        if "\n\n" in between or not (BOX_JOINER.fullmatch(between) or _NOUNS_AND.fullmatch(between)):
            break
        group.insert(0, prev)
    contents = [clean(content) for _, _, content in group]
    if len(group) == 1 or not all(contents):
        return contents[-1] or None
    contents = [str(c) for c in contents]
    labels = []
    for idx, (start, _, _) in enumerate(group):
        before_from = group[idx - 1][1] if idx else text.rfind("\n", 0, start) + 1
        m = LABEL_BEFORE_BOX.search(text[before_from:start])
        labels.append(m["label"].strip() if m else None)
    if all(labels) and len({squash(label) for label in labels}) > 1:
        return ", ".join(f"{label} = {c}" for label, c in zip(labels, contents))
    return ", ".join(contents)


def _from_region(text: str, tagged: bool) -> str | None:
    """The answer in a response or in one <Answer> block: the latest explicit statement wins.

    Boxes, `####` and "the answer is" cues are ranked by position, latest first; a cue that
    comes after the last box overrides it only when it states something substantive.
    Without any of them, a tagged block that is itself an answer is taken whole, and
    otherwise the last math or number is.
    """
    markers = []
    boxes = find_boxes(text)
    if boxes:
        markers.append((boxes[-1][0], "box", lambda: _box_group(text, boxes)))
    gsm = list(GSM8K.finditer(text))
    if gsm:
        markers.append((gsm[-1].start(), "gsm", lambda: clean(gsm[-1].group(1))))
    cues = list(ANSWER_IS.finditer(text))
    if cues:
        markers.append((cues[-1].start(), "cue", lambda: _from_cue(text, cues[-1])))
    markers.sort(key=lambda marker: marker[0], reverse=True)
    for rank, (_, kind, get) in enumerate(markers):
        got = get()
        last_resort = rank == len(markers) - 1
        if got and (kind != "cue" or last_resort or (_substantive(got) and _cue_leads_with_value(text, cues[-1]))):
            return got
    if tagged:
        if _NUM_TOKEN.fullmatch(text.strip()):  # plain text in the template: `6.5kg` is 6.5 kg
            return _prose_numbers(text, last=True)
        cand = clean(text)
        if cand and looks_bare(cand):
            return cand
    return _whole_answer(text) or _last_number(text)


# Words that may stand in an answer that is bare math: "and"/"or" between values, and the names
# of functions written without a backslash. Any other word makes the text prose.
_MATH_NAMES = {"and", "or", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "pi",
               "inf", "mod", "gcd", "lcm", "max", "min", "det"}
_SHORT_WORDS = {"is", "of", "to", "in", "be", "so", "it", "as", "at", "by", "we", "if", "on", "an", "no", "my"}
_TEXT_ARG = re.compile(TEXT_WRAPPERS.pattern + r"[^{}]*\}")


def _whole_answer(text: str) -> str | None:
    """A response that is itself the answer, with no marker: bare math (`x^2 + 4x - 6y + 13`,
    `10, 4, -2`, `\\sec x`) or one or two words without digits ("odd", "no solution"). Read whole, so
    no number is cut out of it."""
    body = text.strip()
    if not body or ("\n" in body and "\\begin" not in body) or len(body) > 300 or CJK.search(body):
        return None  # several lines are a derivation, unless they are one matrix
    words = re.findall(r"[A-Za-z]+", LATEX_CMD.sub(" ", _TEXT_ARG.sub(" ", ENVIRONMENT.sub(" ", body))))
    is_math = all(w.lower() in _MATH_NAMES or (len(w) <= 2 and w.lower() not in _SHORT_WORDS) for w in words)
    is_phrase = not re.search(r"\d", body) and len(words) <= 2 and not re.search(r"[.!?:,]", body)
    return (clean(body) or None) if is_math or is_phrase else None


_GOLD_CHOICE = re.compile(r"\s*(?:\\text\s*\{\s*)?\(?([A-J])\)?\s*\}?(?:[\s.:)]|$)")


def choice_letter(gold: object) -> str | None:
    """The letter of a multiple-choice gold ("C", "(C)", "\\text{(C)}", "(D) Alina", or a gold
    that states it after its last answer cue: "... the answer is (C) Cecile"), else None."""
    if not isinstance(gold, str) or re.search(r"\d", gold):
        return None
    m = _GOLD_CHOICE.match(gold)
    if m is None and (cues := list(ANSWER_IS.finditer(gold))):
        # After the cue, a letter is a choice when it is in parentheses, opens a line or ends
        # the gold: "the answer is\nC Cecile", not "the answer is A circle".
        head, tail = gold[: cues[-1].end()], gold[cues[-1].end() :]
        m = _GOLD_CHOICE.match(tail)
        new_line = re.search(r"\n[ \t]*$", head) or re.match(r"[ \t]*\n", tail)
        if m and not ("(" in m[0] or new_line or not tail[m.end() :].strip(" .")):
            m = None
    return m[1] if m else None


def extract_choice(text: str, gold_letter: str) -> str | None:
    """The choice a response makes when its gold is a letter: the answer it states if that is a
    letter, else the first letter after its last answer cue, else a letter that opens the
    response ("D. Because..."), else the last letter standing alone in its last line ("...so I
    pick B.", "Because B is valid"). A letter in an earlier line is a name in the working ("Let
    C be the centre", then the computation), not a choice: taking it would accept a response
    that never answers."""
    stated = extract_safely(text)
    if stated is not None:
        if m := re.match(r"\(([A-J])\)|([A-J])(?:$|[.:](?:\s|$)|\s+[A-Za-z])", stated.strip()):
            return m[1] or m[2]  # "C", "(C) 24", "C Cecile"
        if re.search(r"[\d=+*/^\\]", stated):
            return str(stated)  # a value (`E \cdot 2`), not a choice
    letters = "A-" + max("E", gold_letter)
    alone = re.compile(r"(?<![A-Za-z\\])([" + letters + r"])(?![A-Za-z])")
    cues = list(ANSWER_IS.finditer(text))
    if cues and (m := alone.search(text[cues[-1].end() :].split("\n", 1)[0])):
        return m[1]
    if m := re.match(r"\s*\(?([" + letters + r"])\)?(?:[\s.:)。]|$|(?=[^A-Za-z\s]))", text):
        return m[1]
    lines = [line for line in _TAG.sub(" ", text).splitlines() if line.strip()]
    found = alone.findall(lines[-1]) if lines else []
    return found[-1] if found else None


def gold_answer(gold: str) -> str:
    """The answer in a gold that is itself a worked solution (it has a box, `####`, an <Answer>
    tag, an answer cue, or sentences); any other gold is returned as it is."""
    if not isinstance(gold, str):
        return gold
    if not (find_boxes(gold) or "####" in gold or ANSWER_TAG.search(gold) or ANSWER_IS.search(gold)
            or len(re.findall(r"[A-Za-z]{2,}", LATEX_CMD.sub(" ", _outside_math(gold)))) >= 4):
        return gold
    return extract_safely(gold) or gold


def extract_answer(text: str) -> str | None:
    """The final answer in a response, cleaned; None if there is none.

    Priority: the last non-empty <Answer>...</Answer>; then the latest of the last \\boxed
    (with the boxes joined to it), GSM8K `#### N` and "the answer is ..."; then the last
    inline math or number. Never raises.
    """
    got = extract_safely(text)
    return None if got is None else str(got)


def extract_safely(text: str) -> Answer | None:
    try:
        return _extract(text)
    except Exception:  # a grader that crashes would take a whole evaluation run down
        return None


# Markdown bold (`**92**`) and GSM8K's calculator annotations (`<<6*2=12>>`) are no answer.
_CALCULATOR = re.compile(r"<<[^<>\n]*>>")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")


def _plain(text: str) -> str:
    """text without what is never part of an answer, with digits and powers in ASCII."""
    text = _BOLD.sub(r"\1", _CALCULATOR.sub("", SPECIAL_TOKEN.sub(" ", ascii_digits(text))))
    # A no-break or thin space between digit groups is a thousands separator (French style).
    text = re.sub(r"(?<=\d)[\u00a0\u202f\u2009](?=\d{3}(?!\d))", "", text)
    return text.replace("²", "^2").replace("³", "^3")


def _extract(text: str) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    text = _plain(text)
    for block in reversed(ANSWER_TAG.findall(text)):
        got = _from_region(block, tagged=True) if block.strip() else None
        if got:
            return got
    return _from_region(text, tagged=False)


