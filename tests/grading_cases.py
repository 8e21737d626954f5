"""Labelled grading cases: (response, gold, verdict, class, reason), written for this project.

Each class is one way a grader goes wrong (see docs/grading.md): answers cut out of units,
fractions and LaTeX, late answer cues, answers stated in a sentence or as bare math, choice
letters, equivalences a plain comparison misses, labelled answers against bare ones, inequalities
against intervals, answers spread over several boxes or joined by "and", CJK and other languages,
inline math, golds that are worked solutions, guards against false accepts, and the deliberate
decisions (rounded decimals, decimal commas, locale thousands, list order, differing units).
Every class has right and wrong pairs; the suite holds bare answers and whole responses.
tests/test_grading.py asserts our verdicts; bench/grader.py scores ours and math-verify's
against them. The cases are our own: conventions learnt from other graders' docs and tests,
written anew.

    python -c "from tests.grading_cases import CASES; print(len(CASES))"
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    response: str
    gold: str
    correct: bool
    cls: str
    reason: str


def _group(cls: str, rows: list[tuple[str, str, bool, str]]) -> list[Case]:
    return [Case(response, gold, correct, cls, reason) for response, gold, correct, reason in rows]


CASES: list[Case] = []

# 1. Extraction: a decimal glued to its unit must not be cut to its whole part.
CASES += _group("extract_decimal_unit", [
    (r"The rod is 12.5cm long.", "12.5", True, "glued cm keeps the decimal"),
    (r"The rod is 12.5cm long.", "12", False, "12.5cm is not 12"),
    (r"The bag weighs 3.75kg in total.", "3.75", True, "glued kg keeps the decimal"),
    (r"The bag weighs 3.75kg in total.", "3", False, "the whole part alone is wrong"),
    (r"The bag weighs 3.75kg in total.", "75", False, "the fractional digits alone are wrong"),
    (r"She ran 2.4km this morning", "2.4", True, "glued km, no final period"),
    (r"She ran 2.4km this morning", "2", False, "2.4km is not 2"),
    (r"Each cup holds 0.25L of water.", "0.25", True, "glued single-letter unit L"),
    (r"Each cup holds 0.25L of water.", "0", False, "0.25L is not 0"),
    (r"The tank fills in 1.5h.", r"\frac32", True, "1.5h equals 3/2"),
    (r"The tank fills in 1.5h.", "1", False, "1.5h is not 1"),
    (r"So the wire is 7.05m long", "7.05", True, "glued m"),
    (r"So the wire is 7.05m long", "7", False, "7.05m is not 7"),
    (r"The answer is 4.8cm.", "4.8", True, "cue plus glued unit"),
    (r"The answer is 4.8cm.", "4", False, "cue plus glued unit, whole part wrong"),
    (r"<Answer>6.5kg</Answer>", "6.5", True, "bare answer with glued unit"),
    (r"<Answer>6.5kg</Answer>", "6", False, "bare answer with glued unit, whole part wrong"),
    (r"\boxed{9.2cm}", "9.2", False, "in math a glued cm is two variables, 9.2·c·m"),
    (r"\boxed{9.2cm}", "9", False, "boxed glued unit, whole part wrong"),
    (r"The average speed was 45.5mph.", "45.5", True, "glued mph"),
    (r"The average speed was 45.5mph.", "45", False, "45.5mph is not 45"),
    (r"It takes 2.5 hours.", "2.5", True, "spaced unit still fine"),
    (r"In all she drinks 1.75L.", "1.75", True, "glued L at sentence end"),
    (r"In all she drinks 1.75L.", "175", False, "dropping the point is wrong"),
])

# 1. Extraction: a slash fraction at the end of a sentence keeps its numerator.
CASES += _group("extract_slash_fraction", [
    (r"So the probability is 3/4.", r"\frac34", True, "fraction before a period"),
    (r"So the probability is 3/4.", "4", False, "the denominator alone is wrong"),
    (r"So the probability is 3/4.", "3", False, "the numerator alone is wrong"),
    (r"Therefore she ate 5/8 of the pie.", "5/8", True, "fraction mid-sentence"),
    (r"Hence the ratio is 7/3.", r"\frac{7}{3}", True, "improper fraction before a period"),
    (r"Hence the ratio is 7/3.", "3", False, "denominator alone is wrong"),
    (r"The chance of two heads is 1/4", "0.25", True, "fraction at the end, no period"),
    (r"The chance of two heads is 1/4", "4", False, "denominator alone is wrong"),
    (r"We conclude that the slope is -2/5.", r"-\frac{2}{5}", True, "negative fraction before a period"),
    (r"We conclude that the slope is -2/5.", "5", False, "denominator alone is wrong"),
    (r"We conclude that the slope is -2/5.", r"\frac25", False, "sign matters"),
    (r"Each friend gets 2/3, and that is all.", "2/3", True, "fraction before a comma"),
    (r"Each friend gets 2/3, and that is all.", "3", False, "denominator alone is wrong"),
    (r"The fraction left is 3 / 8.", "3/8", True, "spaced slash fraction"),
    (r"The fraction left is 3 / 8.", "8", False, "spaced slash, denominator alone is wrong"),
    (r"<Answer>The probability is 1/6.</Answer>", r"\frac16", True, "answer tag with a sentence"),
    (r"<Answer>The probability is 1/6.</Answer>", "6", False, "answer tag, denominator alone wrong"),
    (r"He walks 4 2/3 miles.", r"\frac{14}{3}", True, "mixed number in prose"),
    (r"He walks 4 2/3 miles.", "3", False, "mixed number, denominator alone wrong"),
    (r"So x equals 9/2!", "4.5", True, "fraction before an exclamation mark"),
])

# 1. Extraction: a number with a thousands separator and a unit is not truncated.
CASES += _group("extract_thousands_unit", [
    (r"The truck carries 1,250kg.", "1250", True, "glued kg after a grouped number"),
    (r"The truck carries 1,250kg.", "1", False, "the first group alone is wrong"),
    (r"The truck carries 1,250kg.", "250", False, "the last group alone is wrong"),
    (r"The trip was 12,400km long", "12400", True, "glued km"),
    (r"The trip was 12,400km long", "12", False, "the first group alone is wrong"),
    (r"The farm produced 3,500 kg of wheat.", "3500", True, "spaced unit"),
    (r"The farm produced 3,500 kg of wheat.", "3", False, "first group alone is wrong"),
    (r"It costs $2,300 in total.", "2300", True, "dollar sign and separator"),
    (r"It costs $2,300 in total.", "300", False, "last group alone is wrong"),
    (r"The pool holds 45,000L.", "45000", True, "glued single-letter unit"),
    (r"The pool holds 45,000L.", "45", False, "first group alone is wrong"),
    (r"The answer is 1,000,000 dollars.", "1000000", True, "two separators and a unit word"),
    (r"The answer is 1,000,000 dollars.", "1000", False, "truncated millions"),
    (r"#### 7,200", "7200", True, "GSM8K marker with separator"),
    (r"#### 7,200", "7", False, "GSM8K marker, first group wrong"),
    (r"\boxed{2,500\text{ g}}", "2500", True, "boxed with text unit"),
    (r"\boxed{2,500\text{ g}}", "2", False, "boxed, first group wrong"),
    (r"The population grew to 10,500people.", "10500", True, "glued count noun"),
    (r"He saved 1,234.50 dollars.", "1234.5", True, "separator and decimal"),
    (r"He saved 1,234.50 dollars.", "1234", False, "decimal part matters"),
])

# 1. Extraction: the last-number fallback must not take digits out of LaTeX.
CASES += _group("extract_latex_digits", [
    (r"Simplifying, we get $x^{2}$", "2", False, "exponent is not the answer"),
    (r"Simplifying, we get $x^{2}$", "x^2", True, "the whole power is"),
    (r"So the length is $\sqrt{7}$.", "7", False, "radicand is not the answer"),
    (r"So the length is $\sqrt{7}$.", r"\sqrt7", True, "the root is"),
    (r"So the length is \sqrt{7}.", "7", False, "radicand outside math delimiters"),
    (r"So the length is \sqrt{7}.", r"\sqrt{7}", True, "root outside math delimiters"),
    (r"Therefore $x < 3$.", "3", False, "inequality bound is not the answer"),
    (r"Therefore $x < 3$.", "x<3", True, "the inequality is"),
    (r"so x < 3", "3", False, "prose inequality bound"),
    (r"so x < 3", "x < 3", True, "prose inequality"),
    (r"The solutions satisfy $x \geq -2$.", "-2", False, "bound of a >= inequality"),
    (r"The solutions satisfy $x \geq -2$.", r"x\ge -2", True, "same inequality, other spelling"),
    (r"We find the area is $2\sqrt{3}$.", "3", False, "radicand after a coefficient"),
    (r"We find the area is $2\sqrt{3}$.", "2", False, "coefficient alone"),
    (r"We find the area is $2\sqrt{3}$.", r"\sqrt{12}", True, "same radical"),
    (r"The number of subsets is $2^{10}$.", "10", False, "exponent alone"),
    (r"The number of subsets is $2^{10}$.", "1024", True, "power evaluates to 1024"),
    (r"The number of subsets is 2^{10}.", "10", False, "exponent outside delimiters"),
    (r"Thus the value is $\frac{\pi}{4}$", "4", False, "denominator under pi"),
    (r"Thus the value is $\frac{\pi}{4}$", r"\frac{\pi}{4}", True, "the whole fraction"),
    (r"It becomes $a_{3}$ in the end.", "3", False, "subscript is not a value"),
    (r"The sum is $\log_2 8$.", "8", False, "argument of a log"),
    (r"The sum is $\log_2 8$.", "3", True, "log base 2 of 8 is 3"),
    (r"The remainder is $5!$ divided later.", "5", False, "factorial is not its argument"),
    (r"So the answer simplifies to 5x", "5", False, "coefficient of an expression"),
    (r"So the answer simplifies to 5x", "5x", True, "the expression"),
    (r"We get $y = x^{3}$", "3", False, "exponent in an equation"),
    (r"Hence $t \le 12$ hours.", "12", False, "bound with a unit after it"),
])

# 1. Extraction: a later explicit "final answer is" line wins over an earlier box.
CASES += _group("extract_late_cue", [
    (r"So $\boxed{3}$. Wait, I made an error. The final answer is 4.", "4", True, "later cue wins"),
    (r"So $\boxed{3}$. Wait, I made an error. The final answer is 4.", "3", False, "earlier box loses"),
    ("First guess \\boxed{12}.\nRechecking the sum... Final answer: 14", "14", True, "later Final answer: line"),
    ("First guess \\boxed{12}.\nRechecking the sum... Final answer: 14", "12", False, "earlier box loses"),
    (r"\boxed{\frac12} was wrong; the answer is $\frac{1}{3}$.", r"\frac13", True, "later cue with math"),
    (r"\boxed{\frac12} was wrong; the answer is $\frac{1}{3}$.", r"\frac12", False, "earlier box loses"),
    (r"The answer is 5. Let me double check: \boxed{6}", "6", True, "a later box wins over an earlier cue"),
    (r"The answer is 5. Let me double check: \boxed{6}", "5", False, "the earlier cue loses"),
    (r"Final Answer: The final answer is $\boxed{8}$. I hope it is correct.", "8", True, "cue and box agree"),
    (r"\boxed{7}. The answer is correct because 3 + 4 = 7.", "7", True, "a later cue with no value keeps the box"),
    (r"\boxed{7}. The answer is correct because 3 + 4 = 7.", "4", False, "later cue without a value is no answer"),
    (r"\boxed{\frac{1}{2}}. So the answer is one half.", r"\frac12", True, "word restatement keeps the box"),
    (r"We box \boxed{20} for now. After correcting step 2 the final answer is 25 apples.", "25", True, "late cue with unit noun"),
    (r"We box \boxed{20} for now. After correcting step 2 the final answer is 25 apples.", "20", False, "stale box"),
    ("#### 30\nOops, the answer is 32.", "32", True, "later cue beats #### line"),
    ("#### 30\nOops, the answer is 32.", "30", False, "stale #### line"),
    (r"The answer is 9. Hmm, the answer is 10.", "10", True, "the last cue wins"),
    (r"The answer is 9. Hmm, the answer is 10.", "9", False, "earlier cue loses"),
    (r"\boxed{(1,2)} ... on reflection the final answer is $(2,1)$.", "(2,1)", True, "late cue with a tuple"),
    (r"\boxed{(1,2)} ... on reflection the final answer is $(2,1)$.", "(1,2)", False, "stale box tuple"),
    (r"<Answer>\boxed{4} no, the answer is 5</Answer>", "5", True, "inside the answer tag too"),
    (r"<Answer>\boxed{4} no, the answer is 5</Answer>", "4", False, "stale box inside the tag"),
])

# 2. Equivalence: degree signs inside trig functions are degrees, not radians.
CASES += _group("equiv_trig_degrees", [
    (r"\boxed{\sin 30^\circ}", r"\frac{1}{2}", True, "sin 30 degrees is 1/2"),
    (r"\boxed{\sin 30^\circ}", r"\sin 30", False, "30 degrees is not 30 radians"),
    (r"\boxed{\cos 60^{\circ}}", "0.5", True, "cos 60 degrees is 1/2"),
    (r"\boxed{\cos 60^{\circ}}", "1", False, "cos 60 degrees is not 1"),
    (r"\boxed{\tan 45^\circ}", "1", True, "tan 45 degrees is 1"),
    (r"\boxed{\tan 45^\circ}", r"\tan 45", False, "45 degrees is not 45 radians"),
    (r"\boxed{\sin(90^\circ)}", "1", True, "parenthesised degrees"),
    (r"\boxed{\sin(90^\circ)}", "0", False, "sin 90 degrees is not 0"),
    (r"\boxed{2\cos 30^\circ}", r"\sqrt{3}", True, "coefficient times cos 30 degrees"),
    (r"\boxed{2\cos 30^\circ}", r"\sqrt{2}", False, "wrong radical"),
    (r"The value is $\sin 60°$.", r"\frac{\sqrt3}{2}", True, "unicode degree sign in prose math"),
    (r"The value is $\sin 60°$.", "60", False, "the angle is not the value"),
    (r"\boxed{\cos 180^\circ}", "-1", True, "cos 180 degrees is -1"),
    (r"\boxed{\cos 180^\circ}", "1", False, "sign matters"),
    (r"\boxed{\sin^2 45^\circ}", r"\frac12", True, "squared sine of 45 degrees"),
    (r"\boxed{\sin 30^\circ}", r"\cos 60^\circ", True, "two degree expressions"),
    (r"\boxed{\sin 30^\circ}", r"\cos 30^\circ", False, "different degree expressions"),
    (r"\boxed{\tan 60^\circ}", r"\sqrt 3", True, "tan 60 degrees"),
    (r"\boxed{30^\circ}", "30", True, "a bare angle keeps its number"),
    (r"\boxed{30^\circ}", r"\frac{\pi}{6}", False, "degrees are not converted outside trig"),
    (r"\boxed{\cos(90^\circ - t)}", r"\sin(t)", True, "degrees inside a longer argument"),
    (r"\boxed{\cos(90^\circ - t)}", r"\cos(t)", False, "degrees inside a longer argument, other function"),
])

# 2. Equivalence: an equation against an equivalent equation.
CASES += _group("equiv_equations", [
    (r"\boxed{y = 2x + 3}", r"2x - y + 3 = 0", True, "slope form against general form"),
    (r"\boxed{y = 2x + 3}", r"2x - y - 3 = 0", False, "different intercept"),
    (r"\boxed{2x - y + 3 = 0}", r"y = 2x + 3", True, "general form against slope form"),
    (r"\boxed{y = -\frac{1}{2}x + 4}", r"x + 2y - 8 = 0", True, "fractional slope, cleared"),
    (r"\boxed{y = -\frac{1}{2}x + 4}", r"x - 2y - 8 = 0", False, "sign of slope differs"),
    (r"\boxed{x^2 + y^2 = 25}", r"y^2 + x^2 - 25 = 0", True, "circle rearranged"),
    (r"\boxed{x^2 + y^2 = 25}", r"x^2 + y^2 = 5", False, "different radius"),
    (r"\boxed{2x + 4y = 6}", r"x + 2y = 3", True, "scaled by a constant"),
    (r"\boxed{2x + 4y = 6}", r"x + 2y = 6", False, "only one side scaled"),
    (r"The line is $y - 1 = 3(x - 2)$.", r"y = 3x - 5", True, "point-slope against slope form"),
    (r"The line is $y - 1 = 3(x - 2)$.", r"y = 3x + 5", False, "wrong intercept"),
    (r"\boxed{x = 5}", r"y = 5", False, "different variable"),
    (r"\boxed{y = 3x + 2}", r"y = 3x + 2", True, "identical"),
    (r"\boxed{y = 3x + 2}", r"y = 2x + 3", False, "swapped coefficients"),
    (r"\boxed{3x - 2y = 12}", r"y = \frac{3}{2}x - 6", True, "standard form against slope form"),
    (r"\boxed{3x - 2y = 12}", r"y = \frac{2}{3}x - 6", False, "inverted slope"),
    (r"\boxed{x + y + z = 1}", r"z = 1 - x - y", True, "plane solved for z"),
    (r"\boxed{x + y + z = 1}", "1", False, "an equation is not its right-hand side"),
    (r"\boxed{2x - 3y + z - 4 = 0}", "0", False, "plane against a bare zero"),
    (r"\boxed{y = x^2 - 4x + 4}", r"y = (x-2)^2", True, "expanded against factored"),
    (r"\boxed{y = x^2 - 4x + 4}", r"y = (x+2)^2", False, "wrong factor"),
    (r"\boxed{a - b = 0.75}", r"a - b = \frac34", True, "the same left side: the right sides compared"),
    (r"\boxed{a - b = 0.7}", r"a - b = \frac34", False, "the same left side, another right side"),
    (r"\boxed{\begin{cases} m + n = 0.25 \\ m - n = 1.4142 \end{cases}}",
     r"\begin{cases} m + n = \frac14 \\ m - n = \sqrt2 \end{cases}", True, "a system, row by row"),
    (r"\boxed{\begin{cases} m + n = 0.25 \\ m - n = 1.41 \end{cases}}",
     r"\begin{cases} m + n = \frac14 \\ m - n = \sqrt2 \end{cases}", False, "a system with a row rounded too far"),
])

# 2. Equivalence: `f(x) = expr` against `expr`.
CASES += _group("equiv_function_label", [
    (r"\boxed{f(x) = x^2 + 1}", r"x^2 + 1", True, "function label dropped"),
    (r"\boxed{f(x) = x^2 + 1}", r"x^2 - 1", False, "wrong expression"),
    (r"\boxed{x^2+1}", r"f(x) = x^2 + 1", True, "label on the gold side"),
    (r"\boxed{g(t) = 3t - 7}", r"3t-7", True, "other letter and argument"),
    (r"\boxed{g(t) = 3t - 7}", r"7-3t", False, "negated"),
    (r"\boxed{f^{-1}(x) = \frac{x-3}{2}}", r"\frac{x-3}{2}", True, "inverse function label"),
    (r"\boxed{f^{-1}(x) = \frac{x-3}{2}}", r"\frac{x+3}{2}", False, "wrong inverse"),
    (r"\boxed{p(x) = (x-1)(x+2)}", r"x^2 + x - 2", True, "polynomial label, expanded gold"),
    (r"\boxed{p(x) = (x-1)(x+2)}", r"x^2 - x - 2", False, "wrong middle term"),
    (r"So $f(2) = 9$.", "9", True, "function value label"),
    (r"So $f(2) = 9$.", "2", False, "argument is not the value"),
    (r"<Answer>h(x) = 2x</Answer>", "2x", True, "bare tagged label"),
    (r"<Answer>h(x) = 2x</Answer>", "x", False, "coefficient matters"),
    (r"\boxed{f'(x) = 6x}", "6x", True, "derivative label"),
    (r"\boxed{f'(x) = 6x}", "6", False, "derivative is not its coefficient"),
    (r"\boxed{y = 2x + 3}", "2x+3", True, "y label dropped"),
    (r"\boxed{q(x)=x^3}", r"x^{3}", True, "braced exponent"),
    (r"\boxed{q(x)=x^3}", r"3x", False, "power is not a product"),
    (r"\boxed{P(A) = 0.3}", "0.3", True, "probability label"),
    (r"\boxed{P(A) = 0.3}", "0.7", False, "complement is wrong"),
    (r"\boxed{f(x) = 2x + 3}", "y = 2x + 3", True, "a function's value is its y"),
    (r"\boxed{f(x) = 2x + 3}", "y = 2x - 3", False, "a function's value is its y, other line"),
])

# 2. Equivalence: `x = 1, y = 2` against `1, 2` and labelled tuples.
CASES += _group("equiv_labelled_tuple", [
    (r"\boxed{x = 1, y = 2}", "1, 2", True, "labels dropped in order"),
    (r"\boxed{x = 1, y = 2}", "(1, 2)", True, "labels against a tuple"),
    (r"\boxed{x = 2, y = 1}", "(1, 2)", False, "order follows the variables"),
    (r"\boxed{x = 2, y = 1}", "1, 2", False, "labelled values are ordered"),
    (r"\boxed{x = 1, y = 2}", "y = 2, x = 1", True, "same labels, any order"),
    (r"\boxed{x = 1, y = 2}", "y = 1, x = 2", False, "labels swap the values"),
    (r"\boxed{a = 3, b = -4}", "(3,-4)", True, "other letters"),
    (r"\boxed{a = 3, b = -4}", "(3,4)", False, "sign of the second"),
    (r"So $x = \frac12$ and $y = 5$, i.e. \boxed{x = \frac12, y = 5}", r"\left(\frac{1}{2}, 5\right)", True, "fraction in a labelled tuple"),
    (r"\boxed{x=3,\ y=-1,\ z=2}", "(3,-1,2)", True, "three labels with spacing"),
    (r"\boxed{x=3,\ y=-1,\ z=2}", "(3,-1,-2)", False, "third value wrong"),
    (r"\boxed{x = 1, y = 2}", "(1, 2, 3)", False, "length differs"),
    (r"\boxed{x = \sqrt{2}, y = 1}", r"(\sqrt2, 1)", True, "symbolic element"),
    (r"\boxed{x = \sqrt{2}, y = 1}", r"(\sqrt3, 1)", False, "symbolic element wrong"),
    (r"<Answer>x = 4, y = 6</Answer>", "(4,6)", True, "tagged labelled tuple"),
    (r"<Answer>x = 4, y = 6</Answer>", "(6,4)", False, "tagged, order wrong"),
    (r"\boxed{m = 2 \text{ and } n = 7}", "(2, 7)", True, "joined with 'and'"),
    (r"\boxed{m = 2 \text{ and } n = 7}", "(7, 2)", False, "joined with 'and', order wrong"),
    (r"\boxed{x = 1, 2}", "1, 2", True, "one label for a list of solutions"),
    (r"\boxed{x = 1, 2}", "1, 3", False, "one label, wrong second solution"),
    (r"\boxed{a = 1, b = 4 \text{ and } a = 4, b = 1}", "(1, 4), (4, 1)", True, "named groups joined by 'and' are pairs"),
    (r"\boxed{a = 1, b = 4 \text{ and } a = 4, b = 2}", "(1, 4), (4, 1)", False, "named groups, second pair wrong"),
    (r"\boxed{(2, 3), (3, 2)}", "u = 2, v = 3, u = 3, v = 2", True, "a gold of named groups with commas only"),
])

# 2. Equivalence: a labelled answer whose left side is a name.
CASES += _group("equiv_label", [
    (r"\boxed{(p,q) = (3,2)}", "(3,2)", True, "tuple label"),
    (r"\boxed{(p,q) = (3,2)}", "(2,3)", False, "tuple label, order wrong"),
    (r"\boxed{|AB| = 1}", "1", True, "length label"),
    (r"\boxed{|AB| = 1}", "2", False, "length label, wrong value"),
    (r"\boxed{AB = 5\sqrt2}", r"5\sqrt{2}", True, "segment label"),
    (r"\boxed{AB = 5\sqrt2}", r"5\sqrt{3}", False, "segment label, wrong radical"),
    (r"\boxed{\angle ABC = 40^\circ}", "40", True, "angle label with degrees"),
    (r"\boxed{\angle ABC = 40^\circ}", "50", False, "angle label, wrong value"),
    (r"\boxed{m\angle A = 72}", "72", True, "measure-of-angle label"),
    (r"\boxed{\overline{CD} = 8}", "8", True, "overline label"),
    (r"\boxed{a_5 = 48}", "48", True, "subscripted label"),
    (r"\boxed{a_5 = 48}", "5", False, "subscript is not the value"),
    (r"\boxed{x_{1} = 7}", "7", True, "braced subscript label"),
    (r"\boxed{k = -3}", "-3", True, "single letter label"),
    (r"\boxed{k = -3}", "3", False, "single letter label, sign"),
    (r"\boxed{\theta = \frac{\pi}{3}}", r"\frac\pi3", True, "greek label"),
    (r"\boxed{\theta = \frac{\pi}{3}}", r"\frac\pi6", False, "greek label, wrong angle"),
    (r"\boxed{2x = 10}", "10", False, "2x is not a name"),
    (r"\boxed{x^2 = 9}", "9", False, "x^2 is not a name"),
    (r"\boxed{x + y = 7}", "7", False, "a sum is not a name"),
    (r"\boxed{xy = 12}", "12", True, "a product of letters names the asked quantity"),
    (r"\boxed{2 + 3 = 5}", "5", True, "a computation ends in its value"),
    (r"\boxed{x = 2 + 3 = 5}", "5", True, "a chain ends in its value"),
    (r"\boxed{x = 2 + 3 = 5}", "2", False, "a chain's middle is not the value"),
    (r"\boxed{x \in [-1, 4]}", "[-1,4]", True, "membership label"),
    (r"\boxed{x \in [-1, 4]}", "(-1,4)", False, "membership label, open interval"),
])

# 3. Coverage: an answer split over several boxes.
CASES += _group("coverage_multi_box", [
    (r"The roots are $\boxed{2}$ and $\boxed{3}$.", "2, 3", True, "two boxes with 'and'"),
    (r"The roots are $\boxed{2}$ and $\boxed{3}$.", "3", False, "only one root"),
    (r"The roots are $\boxed{2}$ and $\boxed{3}$.", "2, 4", False, "second root wrong"),
    (r"$x = \boxed{1}$, $y = \boxed{2}$", "(1,2)", True, "labelled boxes"),
    (r"$x = \boxed{1}$, $y = \boxed{2}$", "(2,1)", False, "labelled boxes, order"),
    (r"\boxed{-1}, \boxed{4}", "4, -1", True, "comma-joined boxes"),
    (r"\boxed{-1}, \boxed{4}", "-1", False, "only the first"),
    (r"So $a = \boxed{5}$ and $b = \boxed{-2}$.", "a=5, b=-2", True, "labelled on both sides"),
    (r"So $a = \boxed{5}$ and $b = \boxed{-2}$.", "a=-2, b=5", False, "labels swapped"),
    (r"First \boxed{3}, then after fixing the error, finally \boxed{5}.", "5", True, "words between boxes: last wins"),
    (r"First \boxed{3}, then after fixing the error, finally \boxed{5}.", "3, 5", False, "a replaced box is not part of it"),
    ("Part one gives \\boxed{10}.\n\nThe real question asks for \\boxed{12}.", "12", True, "paragraphs apart: last wins"),
    ("Part one gives \\boxed{10}.\n\nThe real question asks for \\boxed{12}.", "10", False, "paragraphs apart: first loses"),
    (r"\boxed{\frac12} \text{ and } \boxed{\frac13}", r"\frac12, \frac13", True, "text 'and' between boxes"),
    (r"\boxed{\frac12} \text{ and } \boxed{\frac13}", r"\frac12", False, "text 'and', only one"),
    (r"$\boxed{1}$, $\boxed{2}$, $\boxed{3}$", r"\{1,2,3\}", True, "three boxes against a set"),
    (r"$\boxed{1}$, $\boxed{2}$, $\boxed{3}$", r"\{1,2\}", False, "three boxes against a smaller set"),
    (r"The answer is \boxed{7}", "7", True, "one box stays one answer"),
    (r"So $d = \boxed{15\frac{39}{40}}$, or $\boxed{\frac{639}{40}}$ inches.", r"\frac{639}{40}", True, "one value boxed twice"),
    (r"So $d = \boxed{15\frac{39}{40}}$, or $\boxed{\frac{639}{40}}$ inches.", r"\frac{39}{40}", False, "one value boxed twice, wrong gold"),
    (r"$x=\boxed{\sqrt2}$ or $x=\boxed{-\sqrt2}$", r"\pm\sqrt2", True, "plus-minus pair"),
    (r"$x=\boxed{\sqrt2}$ or $x=\boxed{-\sqrt2}$", r"\sqrt2", False, "plus-minus pair, one only"),
])

# 3. Coverage: numbers next to CJK characters.
CASES += _group("coverage_cjk", [
    ("共有12个", "12", True, "number between CJK characters"),
    ("共有12个", "2", False, "not part of the number"),
    ("答案是 12个苹果", "12", True, "CJK answer cue"),
    ("答案是 12个苹果", "13", False, "CJK answer cue, wrong number"),
    ("所以他一共走了3.5公里。", "3.5", True, "decimal before CJK"),
    ("所以他一共走了3.5公里。", "3", False, "decimal before CJK, whole part"),
    ("最终答案：$\\frac{3}{4}$", r"\frac34", True, "CJK final-answer cue with math"),
    ("最终答案：$\\frac{3}{4}$", r"\frac43", False, "CJK cue, inverted"),
    ("因此面积为 $\\boxed{24}$ 平方厘米。", "24", True, "box in Chinese prose"),
    ("因此面积为 $\\boxed{24}$ 平方厘米。", "42", False, "box in Chinese prose, wrong"),
    ("答案为-7。", "-7", True, "negative number before a CJK full stop"),
    ("答案为-7。", "7", False, "sign matters"),
    ("合計は1,200円です。", "1200", True, "Japanese with grouped number"),
    ("合計は1,200円です。", "200", False, "Japanese, last group"),
    ("一共有5个人，每人分到4个。", "4", True, "last number among CJK"),
    ("一共有5个人，每人分到4个。", "5", False, "earlier number"),
    ("정답은 15개입니다.", "15", True, "Korean suffix"),
    ("정답은 15개입니다.", "1", False, "Korean suffix, truncated"),
    ("<Answer>36元</Answer>", "36", True, "tagged CJK currency"),
    ("<Answer>36元</Answer>", "3", False, "tagged CJK currency, truncated"),
])

# 3. Coverage: inline math as the final answer in prose, with no box or cue.
CASES += _group("coverage_inline_math", [
    (r"The solution set is $(-2, 3]$.", "(-2,3]", True, "interval"),
    (r"The solution set is $(-2, 3]$.", "3", False, "interval endpoint is not the answer"),
    (r"The solution set is $(-2, 3]$.", "(-2,3)", False, "open end differs"),
    (r"Therefore the matrix is $\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$.",
     r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", True, "matrix"),
    (r"Therefore the matrix is $\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$.", "4", False, "last entry is not the answer"),
    (r"Therefore the matrix is $\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$.",
     r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}", False, "transposed"),
    (r"So the inequality holds for $x > 5$.", "x>5", True, "inequality"),
    (r"So the inequality holds for $x > 5$.", "5", False, "inequality bound"),
    (r"Hence all $x$ with $-1 \le x \le 2$ work.", "2", False, "chained inequality bound"),
    (r"We end up with $\frac{3}{7}$.", r"\frac37", True, "fraction in math"),
    (r"We end up with $\frac{3}{7}$.", "7", False, "fraction denominator"),
    (r"The vertex is at $(2, -1)$.", "(2,-1)", True, "point"),
    (r"The vertex is at $(2, -1)$.", "-1", False, "point coordinate"),
    (r"The domain is $[0, \infty)$.", r"[0,\infty)", True, "unbounded interval"),
    (r"The domain is $[0, \infty)$.", "0", False, "interval endpoint"),
    (r"In the end we get \(\sqrt{5}\).", r"\sqrt5", True, "paren delimiters"),
    (r"In the end we get \(\sqrt{5}\).", "5", False, "paren delimiters, radicand"),
    (r"Multiplying by $3$ gives 27 in total.", "27", True, "prose number after the last math"),
    (r"Multiplying by $3$ gives 27 in total.", "3", False, "the math multiplier is not the answer"),
    (r"The product is $2 \cdot 3 \cdot 7 = 42$.", "42", True, "a worked computation"),
    (r"The product is $2 \cdot 3 \cdot 7 = 42$.", "7", False, "a factor is not the product"),
    (r"It costs $5 and $6 more, so $11 in all.", "11", True, "dollar signs are not math"),
    (r"It costs $5 and $6 more, so $11 in all.", "6", False, "dollar signs are not math, wrong"),
])

# Decision: a decimal equals a value with no finite decimal form (1/3, pi) only when it is that
# value rounded or cut to its shown digits, with at least four significant digits (two when it
# trails off with an ellipsis). Two decimals, or a decimal and a terminating value, must be equal.
CASES += _group("decision_rounding", [
    (r"\boxed{0.33}", r"\frac13", False, "rounded, not exact"),
    (r"\boxed{0.3333}", r"\frac13", True, "four significant digits, correctly rounded"),
    (r"\boxed{0.67}", r"\frac23", False, "rounded up, not exact"),
    (r"\boxed{0.5}", r"\frac12", True, "exact decimal"),
    (r"\boxed{0.125}", r"\frac18", True, "exact decimal, three places"),
    (r"\boxed{1.4}", r"\frac75", True, "exact improper"),
    (r"\boxed{1.41}", r"\sqrt2", False, "rounded radical"),
    (r"\boxed{3.14}", r"\pi", False, "rounded pi"),
    (r"\boxed{3.14159}", r"\pi", True, "pi rounded to six significant digits"),
    (r"\boxed{2.72}", "e", False, "rounded e"),
    (r"The probability is about 0.17.", r"\frac16", False, "prose rounded"),
    (r"The probability is 1/6.", r"\frac16", True, "prose exact"),
    (r"\boxed{0.4}", "0.40", True, "trailing zero"),
    (r"\boxed{2.50}", r"\frac52", True, "trailing zero against a fraction"),
    (r"\boxed{0.1666}", r"\frac16", True, "cut after four digits, every shown digit right"),
    (r"\boxed{\frac{1}{3}}", "0.33", False, "exact fraction against a rounded gold"),
    (r"\boxed{\frac{1}{4}}", "0.25", True, "exact fraction against an exact gold"),
    (r"\boxed{0.75}", r"75\%", True, "percent of the same value"),
    (r"\boxed{33\%}", r"\frac13", False, "rounded percent"),
    (r"\boxed{66.7}", r"66\frac23", False, "rounded mixed number"),
    (r"\boxed{1.41421356}", r"\sqrt2", True, "eight decimals of the root, correctly rounded"),
    (r"\boxed{2.718281828}", "e", True, "nine decimals of e, correctly rounded"),
    (r"\boxed{0.7071}", r"\frac{\sqrt2}{2}", True, "half-root to four significant digits"),
    (r"\boxed{2}", r"\sqrt{4}", True, "an exact number against a radical with that value"),
    (r"\boxed{1.5}", r"\frac{\sqrt{9}}{2}", True, "an exact decimal against an exact expression"),
])

# Decision: decimal commas. `{,}` before 1-2 digits is a decimal comma; a bare comma (no space)
# is a decimal comma only against a number written with a decimal point, else a list.
CASES += _group("decision_decimal_comma", [
    (r"\boxed{3{,}5}", "3.5", True, "LaTeX decimal comma"),
    (r"\boxed{3{,}5}", "35", False, "LaTeX decimal comma is not a separator"),
    (r"\boxed{0{,}25}", r"\frac14", True, "LaTeX decimal comma, two digits"),
    (r"\boxed{12{,}000}", "12000", True, "three digits: thousands"),
    (r"\boxed{12{,}000}", "12", False, "three digits: not a decimal"),
    (r"\boxed{3,5}", "3.5", True, "the gold's decimal point makes the comma a decimal comma"),
    (r"\boxed{3,5}", "3, 5", True, "bare comma list"),
    (r"\boxed{1,000}", "1000", True, "bare comma, three digits, one number: thousands"),
    (r"\boxed{1,000}", "1", False, "bare thousands is not one"),
    (r"\boxed{2,75}", "2.75", True, "decimal comma against a decimal point"),
    (r"The length is 4{,}5 m.", "4.5", True, "prose LaTeX decimal comma"),
    (r"\boxed{1{,}5}", r"\frac32", True, "decimal comma against a fraction"),
    (r"\boxed{1{,}5}", "15", False, "decimal comma is not a separator"),
    (r"\boxed{1{,}234{,}567}", "1234567", True, "grouped millions"),
    (r"\boxed{7{,}25}", "7.25", True, "two decimal digits"),
    (r"\boxed{7{,}25}", "725", False, "two digits are not a thousands group"),
])

# Decision: bare lists and sets are unordered; tuples and vectors are ordered.
CASES += _group("decision_list_order", [
    (r"\boxed{3, 1, 2}", "1, 2, 3", True, "solution list, any order"),
    (r"\boxed{3, 1, 2}", "1, 2, 4", False, "solution list, wrong member"),
    (r"\boxed{3, 1}", "1, 2, 3", False, "solution list, missing member"),
    (r"\boxed{\{3, 1, 2\}}", r"\{1, 2, 3\}", True, "set, any order"),
    (r"\boxed{2, 1}", r"\{1, 2\}", True, "bare list against a set"),
    (r"\boxed{(3, 1)}", "(1, 3)", False, "ordered pair, reversed"),
    (r"\boxed{(1, 3)}", "(1, 3)", True, "ordered pair"),
    (r"\boxed{(1, 2, 3)}", "(3, 2, 1)", False, "ordered triple reversed"),
    (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}", False, "vector reversed"),
    (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", True, "vector"),
    (r"\boxed{-3, 3}", r"\pm 3", True, "plus-minus is a two-member list"),
    (r"\boxed{3}", r"\pm 3", False, "one of two"),
    (r"The solutions are $x = 4$ and $x = -1$, i.e. \boxed{4, -1}", "-1, 4", True, "prose then boxed list"),
    (r"\boxed{1, 1, 2}", "1, 2", False, "a repeated member changes the list"),
    (r"\boxed{(1,2)}", "1, 2", False, "a pair is not a solution list"),
    (r"\boxed{\frac12, \frac13}", r"\frac13, \frac12", True, "fractions in any order"),
    (r"\boxed{\sqrt2, -\sqrt2}", r"-\sqrt2, \sqrt2", True, "radicals in any order"),
    (r"\boxed{\sqrt2, \sqrt3}", r"-\sqrt2, \sqrt2", False, "radical list, wrong member"),
])

# Decision: units. One side without a unit is fine; two different units are not equal.
CASES += _group("decision_units", [
    (r"\boxed{10\text{ cm}}", r"10\text{ m}", False, "cm is not m"),
    (r"\boxed{10\text{ cm}}", r"10", True, "gold without a unit"),
    (r"\boxed{10}", r"10\text{ cm}", True, "answer without a unit"),
    (r"\boxed{10\text{ cm}}", r"10\text{ centimeters}", True, "same unit, other spelling"),
    (r"\boxed{10\text{ cm}}", r"100\text{ mm}", False, "no unit conversions"),
    (r"The pole is 10 m tall.", r"10\text{ cm}", False, "prose unit differs"),
    (r"The pole is 10 m tall.", "10", True, "prose unit, bare gold"),
    (r"\boxed{5\text{ kg}}", r"5\text{ g}", False, "kg is not g"),
    (r"\boxed{5\text{ kg}}", r"5\text{ kilograms}", True, "kg spelled out"),
    (r"It takes 3 hours.", r"3\text{ minutes}", False, "hours are not minutes"),
    (r"It takes 3 hours.", "3", True, "hours, bare gold"),
    (r"\boxed{12 \text{ cm}^2}", r"12\text{ cm}^2", True, "same area unit"),
    (r"\boxed{12 \text{ cm}^2}", r"12\text{ cm}", False, "area is not length"),
    (r"\boxed{12 \text{ square feet}}", r"12\text{ ft}^2", True, "square feet"),
    (r"\boxed{\$18}", "18 dollars", True, "dollar sign against dollars"),
    (r"\boxed{\$18}", "18 cents", False, "dollars are not cents"),
    (r"\boxed{45^\circ}", r"45\text{ degrees}", True, "degree sign against degrees"),
    (r"\boxed{45^\circ}", r"45\text{ radians}", False, "degrees are not radians"),
    (r"\boxed{7\text{ apples}}", "7", True, "a count noun is no unit"),
    (r"\boxed{7\text{ m}}", "7m", False, "a gold 7m in math is seven times m"),
])

# Whole responses in the project's own template and common chat styles.
CASES += _group("whole_responses", [
    ("<Step1>Each box has 12 eggs; 3 boxes give 36.</Step1>\n<Step2>She uses 10, so 26 remain.</Step2>\n"
     "<Generalized>Multiply, then subtract.</Generalized>\n<Answer>26</Answer>", "26", True, "template answer"),
    ("<Step1>Each box has 12 eggs; 3 boxes give 36.</Step1>\n<Step2>She uses 10, so 26 remain.</Step2>\n"
     "<Answer>26</Answer>", "36", False, "template, intermediate value"),
    ("<Step1><Cause>The area used the diameter.</Cause><Correction>Use r = 3, area 9\\pi.</Correction></Step1>\n"
     "<Answer>$9\\pi$</Answer>", r"9\pi", True, "correction template"),
    ("<Step1><Cause>The area used the diameter.</Cause><Correction>Use r = 3, area 9\\pi.</Correction></Step1>\n"
     "<Answer>$9\\pi$</Answer>", r"36\pi", False, "correction template, old value"),
    ("Let's compute. 48 / 2 = 24 clips in May. 48 + 24 = 72 clips.\n#### 72", "72", True, "GSM8K style"),
    ("Let's compute. 48 / 2 = 24 clips in May. 48 + 24 = 72 clips.\n#### 72", "24", False, "GSM8K style, intermediate"),
    ("We need $x^2 - 5x + 6 = 0$, so $(x-2)(x-3) = 0$.\nThus $x = \\boxed{2}$ or $x = \\boxed{3}$.", "2, 3", True, "two roots boxed"),
    ("We need $x^2 - 5x + 6 = 0$, so $(x-2)(x-3) = 0$.\nThus $x = \\boxed{2}$ or $x = \\boxed{3}$.", "6", False, "constant term"),
    ("The distance is $\\sqrt{3^2 + 4^2} = \\sqrt{25} = 5$.", "5", True, "chain ends in the value"),
    ("The distance is $\\sqrt{3^2 + 4^2} = \\sqrt{25} = 5$.", "25", False, "chain middle"),
    ("Speed = 150 km / 2.5 h = 60 km/h. So the car travels at 60km/h.", "60", True, "rate with glued unit"),
    ("Speed = 150 km / 2.5 h = 60 km/h. So the car travels at 60km/h.", "2.5", False, "rate, divisor"),
    ("I think the answer is (B).", r"\text{(B)}", True, "choice letter"),
    ("I think the answer is (B).", r"\text{(C)}", False, "choice letter, other"),
    ("Step 1: 7 * 8 = 56.\nStep 2: 56 - 6 = 50.\nThe answer is 50.", "50", True, "numbered steps, cue"),
    ("Step 1: 7 * 8 = 56.\nStep 2: 56 - 6 = 50.\nThe answer is 50.", "56", False, "numbered steps, intermediate"),
    ("So the final answer is $\\boxed{\\dfrac{5}{12}}$.", r"\frac{5}{12}", True, "dfrac in box"),
    ("So the final answer is $\\boxed{\\dfrac{5}{12}}$.", "12", False, "dfrac denominator"),
    ("Total cost: 3 × $4.50 = $13.50.", "13.5", True, "prose currency computation"),
    ("Total cost: 3 × $4.50 = $13.50.", "4.5", False, "unit price"),
    ("The perimeter is 2(5 + 3) = 16 cm.", "16", True, "prose computation with unit"),
    ("The perimeter is 2(5 + 3) = 16 cm.", "3", False, "a side"),
    (r"In base five the result is $\boxed{13_5}$.", "13", False, "a base-5 numeral is not the decimal number"),
    (r"In base five the result is $\boxed{13_5}$.", "13_{5}", True, "same numeral, braced base"),
    (r"In base five the result is $\boxed{13_5}$.", "13_6", False, "same digits, other base"),
    ("<Step1>no idea</Step1>", "1", False, "a template tag's digit is no answer"),
    ("<Step1>7 + 5 = 12</Step1><Step2>so 12 in all</Step2>", "12", True, "steps without an answer tag"),
    ("", "0", False, "empty response"),
    ("I could not solve this problem.", "1", False, "no answer at all"),
])

# 1. Extraction: the final answer stated in a sentence, with no box or tag, and bare math that is
# the whole response (no digit may be cut out of it).
CASES += _group("extract_sentence_answer", [
    ("Final Answer: The smallest $k$ is 12.", "12", True, "the value after the sentence's verb"),
    ("Final Answer: The smallest $k$ is 12.", "13", False, "the value after the verb, wrong gold"),
    ("Final answer: the value of $a+b$ is 11", "11", True, "math naming the quantity is skipped"),
    ("Final answer: the value of $a+b$ is 11", "a+b", False, "the named quantity is not the answer"),
    ("Answer: the perimeter of $ABCD$ is $24\\sqrt{2}$.", r"24\sqrt2", True, "math after the verb"),
    ("Answer: the perimeter of $ABCD$ is $24\\sqrt{2}$.", "24", False, "coefficient alone"),
    ("So the answer is that there are 16 ways.", "16", True, "answer stated as a clause"),
    ("So the answer is that there are 16 ways.", "61", False, "answer stated as a clause, wrong gold"),
    ("Final Answer: The final answer is 7. I hope it is correct.", "7", True, "Minerva style"),
    ("Final Answer: The final answer is 7. I hope it is correct.", "8", False, "Minerva style, wrong gold"),
    ("Final Answer: The final answer is $\\frac{2}{9}$. I hope it is correct.", "2/9", True, "Minerva style, fraction"),
    ("Final Answer: The final answer is $\\frac{2}{9}$. I hope it is correct.", "9/2", False, "Minerva, inverted"),
    ("Final Answer: $x = -3$ is the only solution.", "-3", True, "math right after the cue"),
    ("Final Answer: $x = -3$ is the only solution.", "3", False, "math right after the cue, sign"),
    ("The answer is 12, since 3 \\cdot 4 = 12.", "12", True, "value then a reason"),
    ("The answer is 12, since 3 \\cdot 4 = 12.", "4", False, "a factor in the reason"),
    ("Answer: \\boxed{42}<|im_end|>", "42", True, "a chat-template token after the box"),
    ("x^2 - 5x + 6", "(x-2)(x-3)", True, "a whole response that is a polynomial"),
    ("x^2 - 5x + 6", "6", False, "the constant term is not the response"),
    ("a^2 + 2ab + b^2", "(a+b)^2", True, "bare expression with two letters"),
    ("3, 8, 11", "3,8,11", True, "a bare list response"),
    ("3, 8, 11", "11", False, "the last member is not the list"),
    (r"\csc x", r"\frac{1}{\sin x}", True, "a bare function"),
    (r"\csc x", r"\sec x", False, "a different bare function"),
    ("odd", r"\text{odd}", True, "a one-word response"),
    ("odd", r"\text{even}", False, "a one-word response, other word"),
    ("The number of handshakes is 28", "28", True, "no cue: the last number"),
])

# 2. Equivalence: several boxed answers, answers joined by "and"/"or", against lists and sets.
CASES += _group("coverage_box_lists", [
    (r"\boxed{2}, \boxed{5}, \boxed{9}", r"\{2, 5, 9\}", True, "three boxes against a set"),
    (r"\boxed{2}, \boxed{5}, \boxed{9}", r"\{2, 5\}", False, "three boxes against a smaller set"),
    (r"So $n=\boxed{4}$ and $n=\boxed{7}$.", "{4,7}", True, "plain braces are a set too"),
    (r"So $n=\boxed{4}$ and $n=\boxed{7}$.", "{4,8}", False, "plain-brace set, wrong member"),
    (r"$\boxed{-1}$ or $\boxed{3}$", "3, -1", True, "boxes joined by or"),
    (r"\boxed{3 \text{ and } 5}", "3,5", True, "and inside one box"),
    (r"\boxed{3 \text{ and } 5}", "3,6", False, "and inside one box, wrong member"),
    (r"\boxed{2, 4, \text{ and } 6}", "6, 4, 2", True, "serial and"),
    (r"\boxed{2, 4, \text{ and } 6}", "2, 4", False, "serial and, missing member"),
    (r"\boxed{(1, 4)} \quad \text{and} \quad \boxed{(4, 1)}", "(4,1), (1,4)", True, "boxed pairs"),
    (r"\boxed{(1, 4)} \quad \text{and} \quad \boxed{(4, 1)}", "(1,4)", False, "boxed pairs against one pair"),
    (r"\boxed{(0, 2)}, \boxed{(2, 0)}", "(2,0),(0,2)", True, "pairs in another order"),
    (r"\boxed{(0, 2)}, \boxed{(2, 0)}", "(0,2),(2,2)", False, "pairs, one wrong"),
    (r"\boxed{(2, 5, 7), (5, 2, 7), (2, 5, 7)}", "(5,2,7),(2,5,7)", True, "a point listed twice is one solution"),
    (r"\boxed{(2, 5, 7), (5, 2, 7)}", "(5,2,7),(2,5,7),(2,7,5)", False, "a missing point"),
    (r"There are \boxed{12} apples and \boxed{8} pears.", "12, 8", True, "boxes with nouns and 'and'"),
    (r"\boxed{5} is wrong, so it should be \boxed{6}", "5, 6", False, "a correction is not a list"),
    (r"\boxed{5} is wrong, so it should be \boxed{6}", "6", True, "a correction keeps the last box"),
    (r"The solutions are $\{3, 7\}$.", "3, 7", True, "set in prose against a bare list"),
    ("-4;-1;2", r"\{-4,-1,2\}", True, "semicolons separate a list"),
    ("-4;-1;2", r"\{-4,1,2\}", False, "semicolon list, sign"),
    (r"\boxed{(1;2;3)}", "(1,2,3)", True, "semicolons inside a triple"),
    (r"\boxed{(1;2;3)}", "(1,3,2)", False, "semicolon triple, order"),
    (r"\boxed{(2,3) \text{ or } (3,2)}", "(3,2),(2,3)", True, "or between pairs"),
    (r"\boxed{\pm 4}", r"\{-4, 4\}", True, "plus-minus against a set"),
    (r"\boxed{1 \pm \sqrt{3}}", r"1+\sqrt3, 1-\sqrt3", True, "plus-minus expression against both roots"),
    (r"\boxed{1 \pm \sqrt{3}}", r"1+\sqrt3", False, "plus-minus expression against one root"),
])

# 2. Equivalence: a labelled answer against the bare one (ratios, fractions of lengths, groups).
CASES += _group("equiv_labelled_bare", [
    (r"\boxed{7:9}", r"A_1:A_2=7:9", True, "ratio label"),
    (r"\boxed{9:7}", r"A_1:A_2=7:9", False, "ratio label, reversed"),
    (r"The ratio is $AE:EC = 3:5$.", "3:5", True, "ratio label in the answer"),
    (r"The ratio is $AE:EC = 3:5$.", "5:3", False, "ratio label in the answer, reversed"),
    (r"\boxed{P:Q=2}", "2", True, "ratio label against a number"),
    (r"\boxed{\frac{\sqrt3}{2}}", r"\frac{AM}{MB}=\frac{\sqrt{3}}{2}", True, "fraction of lengths as label"),
    (r"\boxed{\frac12}", r"\frac{AM}{MB}=\frac{\sqrt{3}}{2}", False, "fraction of lengths, wrong value"),
    (r"\boxed{(3,1),(5,2)}", "a=3,b=1;a=5,b=2", True, "labelled groups against pairs"),
    (r"\boxed{(5,2),(3,1)}", "a=3,b=1;a=5,b=2", True, "labelled groups, pairs in another order"),
    (r"\boxed{(1,3),(5,2)}", "a=3,b=1;a=5,b=2", False, "labelled groups, a pair reversed"),
    (r"\boxed{x=2, y=-1; x=-1, y=2}", "(2,-1),(-1,2)", True, "labelled groups in the answer"),
    (r"\boxed{b_{12} = 5, b_2 = 3}", "b_2 = 3, b_{12} = 5", True, "subscripts with and without braces"),
    (r"\boxed{b_{12} = 5, b_2 = 3}", "b_2 = 5, b_{12} = 3", False, "subscripted labels swap values"),
    (r"\boxed{(a,b,c)=(1,2,3)}", "(1,2,3)", True, "tuple label"),
    (r"\boxed{(a,b,c)=(1,2,3)}", "(3,2,1)", False, "tuple label, order"),
    (r"\boxed{k = 3, -1, 5}", "-1, 3, 5", True, "one label before a list"),
    (r"\boxed{k = 3, -1, 5}", "-1, 3, 4", False, "one label before a list, wrong member"),
    (r"\boxed{(x, y) = (1, 2) \text{ and } (2, 1)}", "(2,1),(1,2)", True, "pair label before two pairs"),
    (r"\boxed{u = 4, \quad v = -2}", "(4,-2)", True, "labels separated by quad"),
])

# 2. Equivalence: an inequality in one variable against the interval it describes, both ways.
CASES += _group("equiv_inequality_interval", [
    (r"\boxed{[-3, 5]}", r"-3 \le x \le 5", True, "closed interval against a chained inequality"),
    (r"\boxed{(-3, 5]}", r"-3 \le x \le 5", False, "one end open"),
    (r"\boxed{-3 \le x \le 5}", r"[-3,5]", True, "inequality against an interval gold"),
    (r"\boxed{-3 \le x \le 5}", r"x \in [-3,5]", True, "inequality against a membership gold"),
    (r"\boxed{-3 < x \le 5}", r"x \in [-3,5]", False, "strict against closed"),
    (r"The solution set is $x > 2$.", r"(2, \infty)", True, "one-sided inequality"),
    (r"The solution set is $x > 2$.", r"[2, \infty)", False, "strict against closed end"),
    (r"\boxed{(-\infty, 4]}", r"x \leq 4", True, "interval against an upper bound"),
    (r"\boxed{(-\infty, 4]}", r"x < 4", False, "closed against strict bound"),
    (r"\boxed{t \ge -1}", r"[-1,\infty)", True, "another variable name"),
    (r"\boxed{x < -2 \text{ or } x > 3}", r"(-\infty,-2)\cup(3,\infty)", True, "union of two rays"),
    (r"\boxed{x < -2 \text{ or } x > 3}", r"(-\infty,-2]\cup(3,\infty)", False, "union, one end closed"),
    (r"\boxed{(1, 6)}", r"1 < y < 6", True, "open interval against strict inequalities"),
    (r"\boxed{(1, 6)}", r"1 < y \le 6", False, "open against half-open"),
    (r"\boxed{5 > x > 1}", "(1,5)", True, "descending chain"),
    (r"\boxed{(0,1)}", "0 < g(x) < 1", True, "a function value as the variable"),
    (r"\boxed{(0,2)}", "0 < g(x) < 1", False, "a function value, wrong bound"),
    (r"\boxed{-\frac12 \le x < 3}", r"[-\frac{1}{2}, 3)", True, "fractional bound"),
    (r"\boxed{[-4, -2] \cup [2, 4]}", r"2 \le |x| \le 4", True, "bounds on |x| are two intervals"),
    (r"\boxed{[2, 4]}", r"2 \le |x| \le 4", False, "bounds on |x| are not one interval"),
    (r"\boxed{(-5, 5)}", r"|t| < 5", True, "|t| below a bound"),
    (r"\boxed{[-5, 5]}", r"|t| < 5", False, "|t| strictly below a bound"),
    (r"\boxed{|y| > 1}", r"(-\infty, -1) \cup (1, \infty)", True, "|y| above a bound, on the answer side"),
])

# 3. Coverage: solutions written in Chinese, Arabic, French and other languages, whose final
# number is the answer.
CASES += _group("coverage_multilingual", [
    ("答案：每人分到 $\\frac{3}{4}$ 块蛋糕。", "3/4", True, "Chinese answer cue with math"),
    ("答案：每人分到 $\\frac{3}{4}$ 块蛋糕。", "4", False, "Chinese answer cue, denominator"),
    ("所以答案是 25。", "25", True, "Chinese cue and full stop"),
    ("解得 x=6，所以长方形的面积是 54 平方米。", "54", True, "Chinese, last number"),
    ("解得 x=6，所以长方形的面积是 54 平方米。", "6", False, "Chinese, intermediate value"),
    ("答案是１２０。", "120", True, "full-width digits"),
    ("答案是１２０。", "12", False, "full-width digits, truncated"),
    ("إذن، مجموع الأعداد هو **45**.", "45", True, "Arabic with a bold final number"),
    ("إذن، مجموع الأعداد هو **45**.", "44", False, "Arabic, wrong gold"),
    ("الإجابة النهائية هي 17", "17", True, "Arabic final-answer cue"),
    ("الإجابة هي ٣٦", "36", True, "Arabic-Indic digits"),
    ("الإجابة هي ٣٦", "63", False, "Arabic-Indic digits read left to right"),
    ("ناتج القسمة هو ١٢٫٥", "12.5", True, "Arabic decimal separator"),
    ("La réponse est 42.", "42", True, "French answer cue"),
    ("La réponse est 42.", "24", False, "French answer cue, wrong gold"),
    ("Réponse : il reste 15 billes.", "15", True, "French cue with a clause"),
    ("Donc la probabilité est de 3/8.", "3/8", True, "French prose, last number"),
    ("Le prix final est de 12,50 €.", "12.5", True, "French decimal comma and euro sign"),
    ("Le prix final est de 12,50 €.", "1250", False, "French decimal comma is not a separator"),
    ("इसलिए, कुल 72 छात्र हैं।", "72", True, "Hindi, last number"),
    ("इसलिए, कुल 72 छात्र हैं।", "27", False, "Hindi, wrong gold"),
    ("Ответ: 18.", "18", True, "Russian answer cue"),
    ("La respuesta es 9.", "9", True, "Spanish answer cue"),
    ("La respuesta es 9.", "6", False, "Spanish answer cue, wrong gold"),
])

# Decision: thousands grouped by spaces or dots, where the grouping is unambiguous.
CASES += _group("decision_locale_thousands", [
    ("1 250 000", "1250000", True, "space-grouped whole answer"),
    ("1 250 000", "250000", False, "space-grouped, not the last groups"),
    (r"\boxed{1.250.000}", "1250000", True, "dot-grouped millions"),
    (r"\boxed{1.250}", "1250", False, "one dot is a decimal point"),
    (r"\boxed{2.500,75}", "2500.75", True, "dot thousands with a decimal comma"),
    (r"\boxed{2.500,75}", "2.5", False, "dot thousands are not a decimal point"),
    ("Le total est de 12\u00a0500 euros.", "12500", True, "no-break space groups thousands in prose"),
    ("Le total est de 12\u00a0500 euros.", "500", False, "no-break space, last group alone"),
    (r"\boxed{1\,250\,000}", "1250000", True, "LaTeX thin spaces"),
    ("1 000 000", "1000", False, "a million is not a thousand"),
    (r"\boxed{1000,5}", "1000.5", True, "decimal comma after four digits"),
    (r"\boxed{0,125}", "0.125", True, "a leading zero rules out thousands"),
    (r"\boxed{0,125}", "125", False, "a leading zero rules out thousands, integer gold"),
])

# Guards: what must stay wrong although a looser grader accepts it.
CASES += _group("guard_false_accepts", [
    (r"\boxed{10cm}", "10", False, "a glued abbreviation in math is a variable"),
    ("15m", "15", False, "a bare response 15m is fifteen times m"),
    (r"\boxed{10 \text{ cm}}", "10", True, "a unit set as text is a unit"),
    (r"\boxed{10 cm}", "10", True, "a spaced unit is a unit"),
    ("The rope is 10cm long.", "10", True, "in prose a glued unit is a unit"),
    (r"\boxed{4a - b}", "12 = 4a - b", False, "an equation's side against the whole equation"),
    (r"\boxed{12}", "12 = 4a - b", False, "a number on the left is not a label"),
    (r"\boxed{4a - b = 12}", "12 = 4a - b", True, "the same equation turned round"),
    (r"\boxed{9, 2, 5}", "2, 9, 5", False, "neither list ascending: compared in order"),
    (r"\boxed{12, 3, -4}", "3, 12, -4", False, "a descending list against an unsorted one"),
    (r"\boxed{5, 2, 9}", "2, 5, 9", True, "an ascending gold list is a set of solutions"),
    (r"\boxed{8, 6, 1}", "1, 6, 8", True, "any order against an ascending gold"),
    (r"\boxed{-4, 3, 12}", "12, 3, -4", True, "an ascending answer lists a set of solutions"),
    (r"\boxed{2, 9, 5}", "2, 9, 5", True, "an unsorted gold list in its own order"),
    (r"\boxed{0.6667}", "0.66667", False, "two decimals must be equal"),
    (r"\boxed{2.50001}", r"\frac52", False, "a terminating value is never rounded to"),
])

# Golds that are themselves worked solutions: the gold's answer is read the same way.
CASES += _group("gold_solutions", [
    (r"\boxed{12}", r"The total is $3 \cdot 4 = \boxed{12}$.", True, "boxed gold solution"),
    (r"\boxed{13}", r"The total is $3 \cdot 4 = \boxed{12}$.", False, "boxed gold solution, wrong answer"),
    ("7", "Final Answer: The final answer is $7$. I hope it is correct.", True, "Minerva-style gold"),
    ("9", "Final Answer: The final answer is $7$. I hope it is correct.", False, "Minerva-style gold, wrong"),
    (r"\boxed{2, 3}", r"$\boxed{2}$ and $\boxed{3}$", True, "gold of two boxes"),
    (r"\boxed{2}", r"$\boxed{2}$ and $\boxed{3}$", False, "one of the gold's two boxes"),
    ("#### 56", "She has 8 packs of 7 cards, so 56 cards.\n#### 56", True, "GSM8K-style gold"),
    ("#### 65", "She has 8 packs of 7 cards, so 56 cards.\n#### 56", False, "GSM8K-style gold, wrong"),
    (r"Result: \boxed{(1/3)^{2} + \sqrt{16}}", "answer is 1/9 + 4", True, "a gold with an answer cue"),
    (r"Result: \boxed{(1/3)^{2} + \sqrt{16}}", "answer is 1/9 + 5", False, "a gold with an answer cue, wrong"),
    ("$e^{i\\pi} + 2 = 1$", "1", True, "e and i alone are constants: a computation"),
    ("$2 + x = 5$", "5", False, "a variable on the left: an equation, not a value"),
])

# Decision (rounding), continued: decimals that trail off, repeat, or use scientific notation,
# and decimals inside tuples and intervals.
CASES += _group("decision_rounding", [
    (r"\boxed{0.1428\ldots}", r"\frac17", True, "trails off: the shown digits are right"),
    (r"\boxed{0.14\ldots}", r"\frac17", True, "trails off after two significant digits"),
    (r"\boxed{0.15\ldots}", r"\frac17", False, "trails off, wrong digit"),
    (r"\boxed{0.1429}", r"\frac17", True, "rounded to four digits"),
    (r"\boxed{0.1427}", r"\frac17", False, "four digits, last one wrong"),
    (r"\boxed{0.143}", r"\frac17", False, "three significant digits are too few"),
    (r"\boxed{0.0833}", r"\frac{1}{12}", False, "0.0833 has three significant digits"),
    (r"\boxed{0.08333}", r"\frac{1}{12}", True, "four significant digits of 1/12"),
    (r"\boxed{0.\overline{6}}", r"\frac23", True, "a repeating decimal is exact"),
    (r"\boxed{0.1\overline{6}}", r"\frac16", True, "repeating after one digit"),
    (r"\boxed{0.\overline{6}}", r"\frac35", False, "repeating decimal, other value"),
    (r"\boxed{4.583 \times 10^{-2}}", r"\frac{11}{240}", True, "scientific notation, four digits"),
    (r"\boxed{4.583 \times 10^{-3}}", r"\frac{11}{240}", False, "scientific notation, wrong exponent"),
    (r"\boxed{(0.25, 1.6667)}", r"(\frac14, \frac53)", True, "rounded member of a pair"),
    (r"\boxed{(0.2, 1.6667)}", r"(\frac14, \frac53)", False, "exact member wrong"),
    (r"\boxed{[0.5, 2.3333)}", r"[\frac12, \frac73)", True, "rounded end of an interval"),
    (r"\boxed{2.236}", r"\sqrt5", True, "root to four digits"),
    (r"\boxed{2.237}", r"\sqrt5", False, "root, last digit wrong"),
    (r"\boxed{\frac{5}{7}}", "0.7143", True, "exact answer against a rounded gold"),
    (r"\boxed{\frac{5}{7}}", "0.714", False, "rounded gold with three digits"),
    (r"\boxed{33.33\%}", r"\frac13", True, "percent to four digits"),
    ("The probability is about 0.2857.", r"\frac27", True, "prose, four digits"),
    (r"\boxed{0.1251}", r"\frac18", False, "a value with a finite decimal form is not rounded"),
])

CASES += _group("decision_decimal_comma", [
    (r"\boxed{3, 5}", "3.5", False, "with a space the comma separates a list"),
    (r"\boxed{3,5}", r"\frac72", False, "no decimal point on the other side: a list"),
    ("La longueur est de 4,5 cm.", "4.5", True, "prose decimal comma"),
    ("La longueur est de 4,5 cm.", "45", False, "prose decimal comma is not a separator"),
    (r"\boxed{1,5}", "1.5", True, "decimal comma against a decimal point"),
])

# 1. Extraction: a multiple-choice gold (a letter) is met by the letter the response picks.
CASES += _group("extract_choice_letter", [
    ("I believe the right option here is C", "C", True, "the letter after the verb"),
    ("I believe the right option here is C", "B", False, "the letter after the verb, other gold"),
    ("Step by step: not A since it fails, so my pick is B", "B", True, "the last letter standing alone"),
    ("Step by step: not A since it fails, so my pick is B", "A", False, "a rejected option"),
    ("The answer is surely D, not A or B", "D", True, "the first letter after the cue"),
    ("The answer is surely D, not A or B", "A", False, "a letter the cue rules out"),
    ("D. because A and B fail", "D", True, "a letter that opens the response"),
    ("D. because A and B fail", "B", False, "a letter in the reason"),
    ("E", "(E) Maria", True, "a gold with its option text"),
    ("D", "(A) Maria", False, "a gold with its option text, other letter"),
    ("B。 不选 D", "B", True, "a letter before Chinese text"),
    ("la réponse est C et non A", "C", True, "French cue before the letter"),
    ("la réponse est C et non A", "A", False, "French, the excluded letter"),
    (r"\boxed{\text{D}}", "D", True, "boxed letter"),
    (r"\boxed{\text{D}}", r"\text{(E)}", False, "boxed letter, other gold"),
    (r"\boxed{\mathrm{E} \cdot 2}", "E", False, "a value with a letter in it is no choice"),
    ("The answer is (C) 24.", "C", True, "a choice with its option text"),
    ("E", "Both fit, but the answer is\n(E) Tomas", True, "a gold that states its choice after a cue"),
    ("B", "Both fit, but the answer is\n(E) Tomas", False, "a gold that states its choice, other letter"),
    ("A", "The answer is A circle", False, "a capital that opens a word is no choice"),
    ("<Step1>Draw the chord PQ through C, the centre.</Step1>\n<Step2>The chord is 8 long.</Step2>", "C", False,
     "a letter naming a point in the working is no answer"),
    ("Put A at the origin and B on the x-axis.\nI could not finish the computation.", "B", False,
     "letters in an earlier line of the working"),
    ("Only one option survives both checks, so I go with B.", "B", True, "a letter in the last line"),
])

# 1. Extraction: an answer escaped twice (every backslash doubled) and quotes around an answer.
CASES += _group("extract_escaped", [
    (r"so the point is \\boxed{\\left( 2, \\frac{\\pi}{3} \\right)}", r"(2, \frac{\pi}{3})", True,
     "a box escaped twice keeps its parentheses"),
    (r"so the point is \\boxed{\\left( 2, \\frac{\\pi}{3} \\right)}", r"2, \frac{\pi}{3}", False,
     "the escaped tuple is no bare list"),
    (r"\boxed{(4, \frac{1}{7})}", r"\\left(4,\\frac{1}{7}\\right)", True, "a gold escaped twice"),
    (r"\boxed{(4, \frac{1}{6})}", r"\\left(4,\\frac{1}{7}\\right)", False, "a gold escaped twice, other value"),
    (r"\\begin{pmatrix} 3 \\\\ \\frac{1}{2} \\end{pmatrix}", r"\begin{pmatrix} 3 \\ \frac12 \end{pmatrix}", True,
     "a matrix escaped twice"),
    (r"\\begin{pmatrix} 3 \\\\ \\frac{1}{3} \\end{pmatrix}", r"\begin{pmatrix} 3 \\ \frac12 \end{pmatrix}", False,
     "a matrix escaped twice, other entry"),
    ('Final Answer: The final answer is \\"$7$ and $9$\\". I hope it is correct.', "7, 9", True,
     "escaped quotes around the stated answer"),
    ('Final Answer: The final answer is \\"$7$ and $9$\\". I hope it is correct.', "7, 8", False,
     "escaped quotes, wrong second value"),
])

# 2. Equivalence: one value in another notation: clock times, vectors written as matrices,
# complex numbers in i, an article before a word answer.
CASES += _group("equiv_notation", [
    ("The train leaves at 14:05:00.", "14:05", True, "a time with seconds"),
    ("The train leaves at 14:05:00.", "14:50", False, "a time with seconds, other minutes"),
    (r"\boxed{2:05 \text{ p.m.}}", "14:05", True, "p.m. adds twelve hours"),
    (r"\boxed{2:05 \text{ a.m.}}", "14:05", False, "a.m. is the morning"),
    (r"\boxed{6:00}", "7:00", False, "a time or a ratio, another value"),
    (r"\boxed{[3, -1]}", r"\begin{pmatrix} 3 \\ -1 \end{pmatrix}", True, "a column vector written in brackets"),
    (r"\boxed{(-1, 3)}", r"\begin{pmatrix} 3 \\ -1 \end{pmatrix}", False, "a vector's entries in another order"),
    (r"\boxed{\begin{pmatrix} 2 & 5 \end{pmatrix}}", "(2, 5)", True, "a row vector against a tuple"),
    (r"\boxed{(3 - i)(1 + i)}", "4 + 2i", True, "i alone is the imaginary unit"),
    (r"\boxed{(3 - i)(1 + i)}", "2 + 2i", False, "another complex number"),
    (r"\boxed{i^3}", "-i", True, "a power of i"),
    (r"\boxed{\text{an ellipse}}", "ellipse", True, "an article before a word answer"),
    (r"\boxed{\text{a hyperbola}}", "ellipse", False, "another curve"),
])
