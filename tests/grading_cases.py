"""Labelled grading cases: (response, gold, verdict, class, reason), written for this project.

Each class is one way a grader goes wrong (see docs/grading.md): answers cut out of units,
fractions and LaTeX, late answer cues, equivalences a plain comparison misses, answers spread
over several boxes, CJK text, inline math, and the four deliberate decisions (rounded
decimals, decimal commas, list order, differing units). Every class has right and wrong pairs,
bare answers and whole responses. tests/test_grading.py asserts our verdicts; bench/grader.py
scores ours and math-verify's against them.

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
    (r"\boxed{9.2cm}", "9.2", True, "boxed glued unit"),
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

# Decision: a rounded decimal is not an exact fraction (only exact values are equal).
CASES += _group("decision_rounding", [
    (r"\boxed{0.33}", r"\frac13", False, "rounded, not exact"),
    (r"\boxed{0.3333}", r"\frac13", False, "more digits are still rounded"),
    (r"\boxed{0.67}", r"\frac23", False, "rounded up, not exact"),
    (r"\boxed{0.5}", r"\frac12", True, "exact decimal"),
    (r"\boxed{0.125}", r"\frac18", True, "exact decimal, three places"),
    (r"\boxed{1.4}", r"\frac75", True, "exact improper"),
    (r"\boxed{1.41}", r"\sqrt2", False, "rounded radical"),
    (r"\boxed{3.14}", r"\pi", False, "rounded pi"),
    (r"\boxed{3.14159}", r"\pi", False, "more digits of pi are still rounded"),
    (r"\boxed{2.72}", "e", False, "rounded e"),
    (r"The probability is about 0.17.", r"\frac16", False, "prose rounded"),
    (r"The probability is 1/6.", r"\frac16", True, "prose exact"),
    (r"\boxed{0.4}", "0.40", True, "trailing zero"),
    (r"\boxed{2.50}", r"\frac52", True, "trailing zero against a fraction"),
    (r"\boxed{0.1666}", r"\frac16", False, "truncated"),
    (r"\boxed{\frac{1}{3}}", "0.33", False, "exact fraction against a rounded gold"),
    (r"\boxed{\frac{1}{4}}", "0.25", True, "exact fraction against an exact gold"),
    (r"\boxed{0.75}", r"75\%", True, "percent of the same value"),
    (r"\boxed{33\%}", r"\frac13", False, "rounded percent"),
    (r"\boxed{66.7}", r"66\frac23", False, "rounded mixed number"),
    (r"\boxed{1.41421356}", r"\sqrt2", False, "eight decimals of a root are still rounded"),
    (r"\boxed{2.718281828}", "e", False, "nine decimals of e are still rounded"),
    (r"\boxed{0.7071}", r"\frac{\sqrt2}{2}", False, "rounded half-root"),
    (r"\boxed{2}", r"\sqrt{4}", True, "an exact number against a radical with that value"),
    (r"\boxed{1.5}", r"\frac{\sqrt{9}}{2}", True, "an exact decimal against an exact expression"),
])

# Decision: decimal commas. `{,}` before 1-2 digits is a decimal comma; a bare comma is a list.
CASES += _group("decision_decimal_comma", [
    (r"\boxed{3{,}5}", "3.5", True, "LaTeX decimal comma"),
    (r"\boxed{3{,}5}", "35", False, "LaTeX decimal comma is not a separator"),
    (r"\boxed{0{,}25}", r"\frac14", True, "LaTeX decimal comma, two digits"),
    (r"\boxed{12{,}000}", "12000", True, "three digits: thousands"),
    (r"\boxed{12{,}000}", "12", False, "three digits: not a decimal"),
    (r"\boxed{3,5}", "3.5", False, "a bare comma separates solutions"),
    (r"\boxed{3,5}", "3, 5", True, "bare comma list"),
    (r"\boxed{1,000}", "1000", True, "bare comma, three digits, one number: thousands"),
    (r"\boxed{1,000}", "1", False, "bare thousands is not one"),
    (r"\boxed{2,75}", "2.75", False, "bare comma decimal not read"),
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
    (r"\boxed{7\text{ m}}", "7m", True, "glued unit against text unit"),
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
