"""Find the final answer in a response: the last <Answer>, else boxes, `####`, "the answer is", the last math.

    .venv/bin/python -c "from supercorrect.grading.extract import extract_answer; print(extract_answer('so the total is 14.'))"

The order of the rules and why is in docs/grading.md.
"""

from __future__ import annotations

import re

from supercorrect.grading.normalize import (Answer, ANSWER_IS, ANSWER_TAG, BOX_JOINER, CJK, clean,
                                            find_boxes, GSM8K, LABEL_BEFORE_BOX, looks_bare, squash,
                                            TEXT_WRAPPERS, unit_name, unwrap_command)

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
_NUM_TOKEN = re.compile(r"(?P<num>" + _NUM + r"(?:/\d+(?:\.\d+)?)?)(?P<pct>\s*%)?(?P<unit>[A-Za-z]+(?:/[A-Za-z]+)?\.?)?")
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
    t = re.sub(r"^(?:\\\$|\$|€|£)", "", t)
    # A closing bracket with no opener in the token closes a group that began earlier.
    while t and t[-1] in _CLOSERS and t.count(t[-1]) > t.count(_OPENERS[_CLOSERS.index(t[-1])]):
        closer = t[-1]
        start = prose.rfind(_OPENERS[_CLOSERS.index(closer)], 0, tokens[k].start())
        group = prose[start : tokens[k].start() + len(t)] if start != -1 else ""
        if group and "\n" not in group and len(group) < 60 and "," in group:
            return group
        t = t[:-1]
    t = t.lstrip("([{") if t[:1] in _OPENERS and t.count(t[0]) > t.count(_CLOSERS[_OPENERS.index(t[0])]) else t
    m = _NUM_TOKEN.fullmatch(t)
    if m is None:
        return t  # an expression: returned whole
    num = m["num"]
    prev = [tokens[j].group(0) for j in range(max(0, k - 2), k)]
    if m["unit"]:
        name = unit_name(m["unit"])
        if name is None:
            return t  # "5x", "3rd": not a number with a unit
        return f"{num}\\text{{ {m['unit']}}}"
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


def _last_number(text: str) -> str | None:
    """The answer a response ends on when it names none: its last math or its last number.

    Whichever comes later wins: the last math span (taken whole, so `$x^{2}$` is x^2, not 2;
    a span that is one letter, as in "the value of $x$", only names a variable) or the
    last number-bearing token of the prose around the math. Asymptote figures are skipped.
    """
    text = _TAG.sub(" ", _ASY.sub(" ", text))
    segments = _math_segments(text)
    prose = list(text)
    for start, end, _ in segments:
        prose[start:end] = " " * (end - start)
    prose_text = "".join(prose)
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


def _from_cue(text: str, cue: re.Match) -> str | None:
    tail = text[cue.end() :].split("\n", 1)[0]
    # Prefer inline math right after "is": `the answer is $\frac{1}{2}$.`
    math = re.match(r"\s*(?:\$+|\\\(|\\\[)(.+?)(?:\$+|\\\)|\\\])", tail)
    if math:
        return clean(math.group(1)) or None
    # Otherwise the sentence ends at a period followed by a space or the end ("3.5" survives).
    sentence = re.split(r"\.(?:\s|$)", tail, maxsplit=1)[0]
    cand = clean(sentence)
    if cand and looks_bare(cand):
        return cand
    segments = _math_segments(sentence)
    if segments:
        return clean(segments[0][2]) or None
    return _prose_numbers(sentence, last=False)


def _box_group(text: str, boxes: list[tuple[int, int, str]]) -> str | None:
    """The last box, joined by the boxes just before it when only commas or "and" divide them.

    `x = \\boxed{1}, y = \\boxed{2}` is the answer `x = 1, y = 2`; `\\boxed{3}, finally
    \\boxed{4}` is 4 (the later box replaced the earlier).
    """
    group = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        between = text[prev[1] : group[0][0]]
        between = LABEL_BEFORE_BOX.sub("", between)
        if "\n\n" in between or not BOX_JOINER.fullmatch(between):
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
        cand = clean(text)
        if cand and looks_bare(cand):
            return cand
    return _last_number(text)


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


def _extract(text: str) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    for block in reversed(ANSWER_TAG.findall(text)):
        got = _from_region(block, tagged=True) if block.strip() else None
        if got:
            return got
    return _from_region(text, tagged=False)


