"""Training-side text: prompts, reasoning traces and final answers per domain.

Every builder takes a seeded `random.Random` and returns a `Problem`; the
reasoning is assembled separately by `build_reasoning` so that its length,
its "Wait" self-corrections and a possible truncation are controlled by the
caller. The wording here is deliberately unlike the benchmark templates in
`benchgen.py` (the generator checks that no clean prompt shares a word
10-gram or a fuzzy match with any benchmark question).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from medical_assets.sample import vocab as V

DOMAINS = ("medical", "biology", "chemistry", "physics", "math", "code", "general")


@dataclass
class Problem:
    """One training prompt with the material to write its reasoning and answer."""

    domain: str
    prompt: str
    steps: list[str]  # problem-specific reasoning sentences, in order
    answer: str  # the final answer as shown to the user (markdown)
    topic: str  # what the question is about (used in the opening sentence)
    final: str  # a short final answer (reference answers, closing sentence); "" if none
    alt: str  # an alternative considered in self-corrections


def pick(rng: random.Random, items):
    return items[rng.randrange(len(items))]


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def boxed(text: str) -> str:
    return "\\boxed{" + text + "}"


def maybe_box(rng: random.Random, answer: str, final: str, p: float) -> str:
    """Append a boxed final answer with probability p."""
    if rng.random() < p:
        return f"{answer}\n\n**Final answer:** {boxed(final)}"
    return answer


# --------------------------------------------------------------------------- medical


def _other_condition(rng: random.Random, cond: V.Condition) -> V.Condition:
    same = [c for c in V.CONDITIONS if c.system == cond.system and c.name != cond.name]
    pool = same or [c for c in V.CONDITIONS if c.name != cond.name]
    return pick(rng, pool)


def med_pathophysiology(rng: random.Random) -> Problem:
    c = pick(rng, V.CONDITIONS)
    sym = pick(rng, c.symptoms)
    prompt = pick(rng, (
        f"Explain the pathophysiology of {c.name} and how it produces {sym}.",
        f"Can you walk me through why {c.name} leads to {sym}?",
        f"From a mechanistic point of view, how does {c.name} develop, and where does the {sym} come from?",
    ))
    alt = _other_condition(rng, c).name
    steps = [
        f"The core problem in {c.name} is {c.mechanism}.",
        f"That directly explains the {sym}, since the affected tissue cannot do its usual job.",
        f"Other features that fit the same process are {', '.join(s for s in c.symptoms if s != sym)}.",
        f"On examination one often finds {c.sign}.",
        f"The diagnosis is usually supported by {c.test}, which shows {c.result}.",
    ]
    answer = (f"**{cap(c.name)}** is driven by {c.mechanism}.\n\n"
              f"**Why {sym} occurs:** the underlying process disrupts normal function of the involved "
              f"{c.system} structures, and the {sym} is a direct consequence.\n\n"
              f"**Related findings:**\n" + "\n".join(f"- {s}" for s in c.symptoms) +
              f"\n- on examination: {c.sign}\n\n"
              f"**Confirmation:** {c.test} typically shows {c.result}.")
    return Problem("medical", prompt, steps, maybe_box(rng, answer, c.name, 0.2), c.name, c.name, alt)


def med_treatment(rng: random.Random) -> Problem:
    c = pick(rng, V.CONDITIONS)
    prompt = pick(rng, (
        f"What is the first-line treatment for {c.name}, and what should be monitored afterwards?",
        f"How is {c.name} usually managed in the first few days?",
        f"Outline the initial management of {c.name} for a junior doctor on call.",
    ))
    alt = _other_condition(rng, c).treatment
    steps = [
        f"For {c.name}, the standard initial approach is {c.treatment}.",
        f"The rationale is that the disease results from {c.mechanism}, so therapy targets that process or its effects.",
        f"Before starting, it helps to confirm the diagnosis with {c.test}.",
        "Monitoring should cover both the response to treatment and the expected side effects.",
    ]
    answer = (f"**First-line management of {c.name}:** {c.treatment}.\n\n"
              f"**Before treating:** confirm with {c.test} (expected: {c.result}).\n\n"
              "**Monitoring:**\n- clinical response over the first 24-72 hours\n"
              "- adverse effects of the chosen therapy\n- escalation if the patient deteriorates")
    return Problem("medical", prompt, steps, maybe_box(rng, answer, c.treatment, 0.35), c.name, c.treatment, alt)


def med_drug(rng: random.Random) -> Problem:
    d = pick(rng, V.DRUGS)
    other = pick(rng, [x for x in V.DRUGS if x.name != d.name])
    if rng.random() < 0.5:
        prompt = pick(rng, (
            f"Describe how {d.name} works and list its most important adverse effects.",
            f"I'm studying pharmacology. What is the mechanism of {d.name} and what side effects matter most?",
        ))
    else:
        prompt = pick(rng, (
            f"Why does {d.name} cause {d.adverse}? Please explain the mechanism.",
            f"Help me understand the link between {d.name} and {d.adverse}.",
        ))
    steps = [
        f"{cap(d.name)} is a {d.drug_class}.",
        f"Its main action is that it {d.mechanism}.",
        f"It is used mainly for {d.use}.",
        f"The adverse effect people remember is {d.adverse}, which follows from where and how the drug acts.",
        f"That's different from {other.name}, which {other.mechanism}.",
    ]
    answer = (f"**{cap(d.name)}** ({d.drug_class})\n\n- **Mechanism:** {d.mechanism}\n- **Main use:** {d.use}\n"
              f"- **Key adverse effect:** {d.adverse}\n\nPatients should be monitored for {d.adverse} "
              "and counselled on warning signs.")
    return Problem("medical", prompt, steps, maybe_box(rng, answer, d.mechanism, 0.2), d.name, d.mechanism, other.name)


def med_compare(rng: random.Random) -> Problem:
    a = pick(rng, V.CONDITIONS)
    b = _other_condition(rng, a)
    prompt = pick(rng, (
        f"How can {a.name} be distinguished from {b.name} at the bedside?",
        f"I keep confusing {a.name} and {b.name}. What are the main differences in presentation and management?",
        f"Compare {a.name} with {b.name}: symptoms, tests and treatment.",
    ))
    steps = [
        f"{cap(a.name)} tends to show {', '.join(a.symptoms)}.",
        f"{cap(b.name)} instead shows {', '.join(b.symptoms)}.",
        f"A helpful sign for {a.name} is {a.sign}, while {b.name} is suggested by {b.sign}.",
        f"Testing differs as well: {a.test} for the first and {b.test} for the second.",
        f"Treatment follows: {a.treatment} versus {b.treatment}.",
    ]
    answer = ("| Feature | " + cap(a.name) + " | " + cap(b.name) + " |\n|---|---|---|\n"
              f"| Symptoms | {', '.join(a.symptoms)} | {', '.join(b.symptoms)} |\n"
              f"| Examination | {a.sign} | {b.sign} |\n| Key test | {a.test} | {b.test} |\n"
              f"| Treatment | {a.treatment} | {b.treatment} |")
    return Problem("medical", prompt, steps, answer, f"{a.name} vs {b.name}", a.name, b.name)


def med_case(rng: random.Random) -> Problem:
    c = pick(rng, V.CONDITIONS)
    sex = c.sex if c.sex != "any" else pick(rng, ("male", "female"))
    age = rng.randint(*c.ages)
    s1, s2 = rng.sample(list(c.symptoms), 2)
    alt = _other_condition(rng, c)
    prompt = pick(rng, (
        f"Patient aged {age}, {sex}, reporting {s1} and {s2}; workup reveals {c.result}. "
        "What's the likely diagnosis and the next step?",
        f"Quick case check: {sex} patient, {age} years, with {s1} plus {s2}. I found {c.sign}. "
        "What do you think is going on?",
        f"Case for discussion - {age} y/o {sex}, chief complaint {s1}, also {s2}. Thoughts on diagnosis and plan?",
    ))
    steps = [
        f"The combination of {s1} and {s2} in a patient aged {age} narrows things down.",
        f"{cap(c.sign)} is a strong pointer toward {c.name}.",
        f"{cap(alt.name)} can look similar, but it would usually show {alt.sign}.",
        f"The diagnosis can be confirmed with {c.test}, expecting {c.result}.",
        f"Management would start with {c.treatment}.",
    ]
    answer = (f"**Most likely diagnosis:** {c.name}.\n\n**Reasoning:** {s1} with {s2}, together with "
              f"{c.sign}, fits {c.name} better than {alt.name}.\n\n**Next step:** {c.test}; then "
              f"{c.treatment}.")
    return Problem("medical", prompt, steps, maybe_box(rng, answer, c.name, 0.6), c.name, c.name, alt.name)


def med_test(rng: random.Random) -> Problem:
    c = pick(rng, V.CONDITIONS)
    alt = _other_condition(rng, c)
    prompt = pick(rng, (
        f"Which investigation confirms {c.name}, and what would it typically show?",
        f"What test should I order to confirm suspected {c.name}?",
    ))
    steps = [
        f"The confirmatory investigation for {c.name} is {c.test}.",
        f"A typical positive result is {c.result}.",
        f"Clinically, {c.sign} raises the pretest probability.",
        f"If that test is negative, {alt.name} becomes more likely.",
    ]
    answer = f"Use **{c.test}**. In {c.name} it typically shows {c.result}."
    return Problem("medical", prompt, steps, maybe_box(rng, answer, c.test, 0.4), c.name, c.test, alt.test)


def med_organism(rng: random.Random) -> Problem:
    o = pick(rng, V.ORGANISMS)
    other = pick(rng, [x for x in V.ORGANISMS if x.name != o.name])
    prompt = pick(rng, (
        f"What infections does {o.name} cause, and how are they usually treated?",
        f"Tell me about {o.name}: what it looks like in the lab, what it causes and how to treat it.",
    ))
    steps = [
        f"{o.name} is a {o.kind}.",
        f"Its classic clinical picture is {o.disease}.",
        f"A distinguishing feature is {o.feature}.",
        f"Treatment is usually {o.treatment}.",
        f"Not to be confused with {other.name}, which causes {other.disease}.",
    ]
    answer = (f"**{o.name}** - {o.kind}\n\n- Typical disease: {o.disease}\n- Notable feature: {o.feature}\n"
              f"- Usual treatment: {o.treatment}")
    return Problem("medical", prompt, steps, answer, o.name, o.treatment, other.name)


def med_relative(rng: random.Random) -> Problem:
    c = pick(rng, V.CONDITIONS)
    rel = pick(rng, V.RELATIVES)
    prompt = pick(rng, (
        f"My {rel} was just diagnosed with {c.name}. What does that mean and what treatment options exist?",
        f"My {rel} has {c.name} according to the doctors. Should I be worried, and what happens next?",
    ))
    steps = [
        f"The user is asking as a family member, so the explanation should be plain.",
        f"{cap(c.name)} basically means {c.mechanism}.",
        f"The usual treatment is {c.treatment}.",
        "I should encourage them to ask the treating team specific questions.",
    ]
    answer = (f"I'm sorry to hear about your {rel}. In simple terms, {c.name} means {c.mechanism}.\n\n"
              f"**Typical treatment:** {c.treatment}.\n\n**Questions to ask the care team:**\n"
              "- How severe is it right now?\n- What are the goals of treatment?\n"
              "- Which warning signs should prompt an urgent call?")
    return Problem("medical", prompt, steps, answer, c.name, c.treatment, _other_condition(rng, c).name)


def med_symptoms(rng: random.Random) -> Problem:
    c = pick(rng, V.CONDITIONS)
    prompt = f"List the classic symptoms of {c.name} and explain which examination finding is most specific."
    steps = [
        f"Classic symptoms of {c.name} are {', '.join(c.symptoms)}.",
        f"The most specific examination finding is {c.sign}.",
        f"Symptoms alone overlap with {_other_condition(rng, c).name}, so the sign matters.",
    ]
    answer = ("**Classic symptoms:**\n" + "\n".join(f"- {s}" for s in c.symptoms) +
              f"\n\n**Most specific finding:** {c.sign}.")
    return Problem("medical", prompt, steps, answer, c.name, c.sign, c.test)


def med_class_choice(rng: random.Random) -> Problem:
    d = pick(rng, V.DRUGS)
    others = rng.sample([x.drug_class for x in V.DRUGS if x.drug_class != d.drug_class], 3)
    choices = others + [d.drug_class]
    rng.shuffle(choices)
    prompt = (f"Which drug class does {d.name} belong to? Pick one: "
              f"{', '.join(choices[:-1])}, or {choices[-1]}.")
    steps = [
        f"{cap(d.name)} {d.mechanism}.",
        f"That mechanism defines the {d.drug_class} group.",
        "The other choices act quite differently.",
    ]
    answer = f"{cap(d.name)} is a **{d.drug_class}**: it {d.mechanism}.\n\n{boxed(d.drug_class)}"
    return Problem("medical", prompt, steps, answer, d.name, d.drug_class, others[0])


MEDICAL_BUILDERS: tuple[Callable[[random.Random], Problem], ...] = (
    med_pathophysiology, med_treatment, med_drug, med_compare, med_case, med_test, med_organism,
    med_relative, med_symptoms, med_class_choice,
)


# ----------------------------------------------------------------- training MCQs (m23k)


@dataclass
class MCQ:
    """A training-style multiple-choice question (for m23k-like rows)."""

    question: str
    options: list[str]
    answer_idx: int
    topic: str
    steps: list[str]


def _mcq(rng: random.Random, question: str, right: str, wrong_pool: list[str], topic: str,
         steps: list[str]) -> MCQ:
    wrong = rng.sample(sorted(set(w for w in wrong_pool if w != right)), 3)
    options = [cap(o) for o in wrong + [right]]
    rng.shuffle(options)
    return MCQ(question, options, options.index(cap(right)), topic, steps)


def training_mcq(rng: random.Random) -> MCQ:
    """A multiple-choice question in the training style (not the benchmark style)."""
    kind = rng.randrange(5)
    if kind == 0:
        c = pick(rng, V.CONDITIONS)
        age = rng.randint(*c.ages)
        s1, s2 = rng.sample(list(c.symptoms), 2)
        q = (f"Patient aged {age} with {s1}, {s2} and {c.sign}. "
             "Preferred confirmatory investigation?")
        return _mcq(rng, q, c.test, [x.test for x in V.CONDITIONS], c.name,
                    [f"These features suggest {c.name}.", f"{cap(c.test)} confirms it by showing {c.result}."])
    if kind == 1:
        d = pick(rng, V.DRUGS)
        q = f"Mechanistically, {d.name} acts in which of these ways?"
        return _mcq(rng, q, d.mechanism, [x.mechanism for x in V.DRUGS], d.name,
                    [f"{cap(d.name)} is a {d.drug_class}.", f"So it {d.mechanism}."])
    if kind == 2:
        o = pick(rng, V.ORGANISMS)
        q = f"Infection with {o.name} ({o.kind}) would best be managed using"
        return _mcq(rng, q, o.treatment, [x.treatment for x in V.ORGANISMS], o.name,
                    [f"{o.name} typically causes {o.disease}.", f"The usual therapy is {o.treatment}."])
    if kind == 3:
        c = pick(rng, V.CONDITIONS)
        sex = c.sex if c.sex != "any" else pick(rng, ("male", "female"))
        dur = pick(rng, V.DURATIONS[V.course_of(c.name)])
        s1, s2 = rng.sample(list(c.symptoms), 2)
        q = (f"{rng.randint(*c.ages)} y/o {sex}; {s1} and {s2} over {dur}; exam notable for {c.sign}. "
             "Most consistent condition?")
        return _mcq(rng, q, c.name, [x.name for x in V.CONDITIONS], c.name,
                    [f"{cap(c.sign)} is typical of {c.name}.", f"The symptom pattern agrees with {c.name}."])
    d = pick(rng, V.DRUGS)
    q = f"Toxicity most typically linked to {d.name} therapy for {d.use}:"
    return _mcq(rng, q, d.adverse, [x.adverse for x in V.DRUGS], d.name,
                [f"{cap(d.name)} {d.mechanism}.", f"Its hallmark toxicity is {d.adverse}."])


# ------------------------------------------------------------------------- biology


def bio_organelle(rng: random.Random) -> Problem:
    name, process, role = pick(rng, V.ORGANELLES)
    other = pick(rng, [o for o in V.ORGANELLES if o[0] != name])
    prompt = pick(rng, (f"Explain the role of {name} in {process}.",
                        f"What do {name} actually do in a cell, especially for {process}?"))
    steps = [f"{cap(name)} {role}.", f"This is central to {process}.",
             f"{cap(other[0])} are involved in something else: they {other[2]}."]
    answer = f"**{cap(name)}** {role}, which makes them essential for {process}."
    return Problem("biology", prompt, steps, answer, name, process, other[0])


def bio_process(rng: random.Random) -> Problem:
    name, desc = pick(rng, V.BIO_PROCESSES)
    other = pick(rng, [p for p in V.BIO_PROCESSES if p[0] != name])
    prompt = pick(rng, (f"Describe what happens during {name}.", f"How does {name} work at the molecular level?",
                        f"Give me a clear summary of {name} for an exam."))
    steps = [f"In short, {name} {desc}.", f"It connects to {other[0]}, which {other[1]}.",
             "The regulation of each step keeps the process efficient."]
    answer = f"**{cap(name)}** {desc}.\n\nIt links to {other[0]}, which {other[1]}."
    return Problem("biology", prompt, steps, answer, name, name, other[0])


def bio_mitosis(rng: random.Random) -> Problem:
    phase, desc = pick(rng, V.MITOSIS_PHASES)
    other = pick(rng, [p for p in V.MITOSIS_PHASES if p[0] != phase])
    prompt = f"What happens during {phase} of mitosis, and why does it matter?"
    steps = [f"During {phase}, {desc}.", f"This comes before or after {other[0]}, when {other[1]}.",
             "Errors here can lead to aneuploidy."]
    answer = f"In **{phase}**, {desc}. Accurate execution prevents aneuploid daughter cells."
    return Problem("biology", prompt, steps, answer, phase, phase, other[0])


def bio_hormone(rng: random.Random) -> Problem:
    h, target, effect = pick(rng, V.HORMONES)
    other = pick(rng, [x for x in V.HORMONES if x[0] != h])
    prompt = pick(rng, (f"How does {h} regulate {target}?", f"Explain the feedback loop by which {h} controls {target}."))
    steps = [f"{cap(h)} {effect}.", "A negative feedback loop limits its release once the set point is restored.",
             f"By contrast, {other[0]} {other[2]}."]
    answer = f"**{cap(h)}** {effect}. Negative feedback then reduces its secretion."
    return Problem("biology", prompt, steps, answer, h, target, other[0])


def bio_hardy(rng: random.Random) -> Problem:
    q = pick(rng, (0.1, 0.2, 0.3, 0.4, 0.05, 0.15, 0.25))
    p = 1 - q
    het = round(2 * p * q, 4)
    prompt = (f"In a population in Hardy-Weinberg equilibrium, the recessive allele frequency is {q}. "
              "What fraction of individuals are heterozygous carriers?")
    steps = [f"With q = {q}, p = 1 - q = {round(p, 4)}.", "Heterozygotes occur at frequency 2pq.",
             f"2 x {round(p, 4)} x {q} = {het}."]
    answer = f"The carrier frequency is 2pq = {het}.\n\n{boxed(str(het))}"
    return Problem("biology", prompt, steps, answer, "Hardy-Weinberg equilibrium", str(het), str(round(q * q, 4)))


def bio_cross(rng: random.Random) -> Problem:
    trait = pick(rng, V.TRAITS)
    n = 4 * rng.randint(20, 250)
    prompt = (f"Two plants heterozygous for {trait} are crossed and produce {n} offspring. "
              "How many would you expect to show the recessive phenotype?")
    steps = ["A monohybrid cross Aa x Aa gives genotypes in a 1:2:1 ratio.",
             "Only aa shows the recessive phenotype, which is one quarter.", f"{n} / 4 = {n // 4}."]
    answer = f"About one quarter: {n} / 4 = {n // 4} offspring.\n\n{boxed(str(n // 4))}"
    return Problem("biology", prompt, steps, answer, "a monohybrid cross", str(n // 4), str(3 * n // 4))


def bio_compare(rng: random.Random) -> Problem:
    a, b = pick(rng, V.BIO_PAIRS)
    prompt = pick(rng, (f"Compare {a} and {b} in terms of structure and function.",
                        f"What is the difference between {a} and {b}?"))
    steps = [f"{cap(a)} and {b} are often taught together.", "The key differences are in structure and purpose.",
             "A comparison table will make this clearer."]
    answer = (f"| | {cap(a)} | {cap(b)} |\n|---|---|---|\n| Main idea | defined by its own mechanism | "
              "defined by a contrasting mechanism |\n\nBoth matter for understanding how organisms work.")
    return Problem("biology", prompt, steps, answer, f"{a} vs {b}", a, b)


def bio_immune(rng: random.Random) -> Problem:
    cell, role = pick(rng, V.IMMUNE_CELLS)
    other = pick(rng, [c for c in V.IMMUNE_CELLS if c[0] != cell])
    prompt = f"What role do {cell} play in the immune response?"
    steps = [f"{cap(cell)} are specialized for {role}.", f"{cap(other[0])}, by contrast, handle {other[1]}."]
    answer = f"**{cap(cell)}** are mainly responsible for {role}."
    return Problem("biology", prompt, steps, answer, cell, role, other[0])


BIOLOGY_BUILDERS = (bio_organelle, bio_process, bio_mitosis, bio_hormone, bio_hardy, bio_cross, bio_compare, bio_immune)


# ----------------------------------------------------------------------- chemistry


def _molar_mass(formula: dict[str, int]) -> float:
    return round(sum(V.ATOMIC_MASS[el] * n for el, n in formula.items()), 2)


def chem_molar_mass(rng: random.Random) -> Problem:
    name, formula, text = pick(rng, V.COMPOUNDS)
    mm = _molar_mass(formula)
    prompt = f"Calculate the molar mass of {name} ({text})."
    parts = [f"{n} x {V.ATOMIC_MASS[el]} for {el}" for el, n in formula.items()]
    steps = [f"{cap(name)} is {text}.", "Add the atomic masses: " + ", ".join(parts) + ".", f"The total is {mm} g/mol."]
    answer = f"The molar mass of {text} is about **{mm} g/mol**.\n\n{boxed(f'{mm}' + ' g/mol')}"
    return Problem("chemistry", prompt, steps, answer, name, f"{mm} g/mol", text)


def chem_ph(rng: random.Random) -> Problem:
    acid = pick(rng, V.STRONG_ACIDS)
    conc = pick(rng, (0.1, 0.01, 0.001, 0.05, 0.02, 0.005, 0.2))
    ph = round(-math.log10(conc), 2)
    prompt = f"What is the pH of a {conc} M solution of {acid}?"
    steps = [f"{cap(acid)} is a strong acid, so it dissociates completely.", f"[H+] = {conc} M.",
             f"pH = -log10({conc}) = {ph}."]
    answer = f"pH = -log[H+] = {ph}.\n\n{boxed(str(ph))}"
    return Problem("chemistry", prompt, steps, answer, acid, str(ph), str(round(14 - ph, 2)))


def chem_moles(rng: random.Random) -> Problem:
    name, formula, text = pick(rng, V.COMPOUNDS)
    mass = rng.randint(5, 500)
    mm = _molar_mass(formula)
    moles = round(mass / mm, 3)
    prompt = f"How many moles are in {mass} grams of {name}?"
    steps = [f"The molar mass of {text} is {mm} g/mol.", f"n = m / M = {mass} / {mm} = {moles} mol."]
    answer = f"About {moles} mol.\n\n{boxed(str(moles))}"
    return Problem("chemistry", prompt, steps, answer, name, f"{moles} mol", str(round(mass * mm, 1)))


def chem_hybrid(rng: random.Random) -> Problem:
    mol, atom, hyb, why = pick(rng, V.HYBRIDIZATION)
    other = pick(rng, [h for h in V.HYBRIDIZATION if h[2] != hyb])
    prompt = f"What is the hybridization of the {atom} atom in {mol}, and why?"
    steps = [f"The {atom} in {mol} has {why}.", f"Counting electron domains gives {hyb}.",
             f"Compare {other[0]}, where the central atom is {other[2]}."]
    answer = f"The {atom} atom is **{hyb}** hybridized because it has {why}.\n\n{boxed(hyb)}"
    return Problem("chemistry", prompt, steps, answer, mol, hyb, other[2])


def chem_why(rng: random.Random) -> Problem:
    fact, why = pick(rng, V.CHEM_PHENOMENA)
    prompt = pick(rng, (f"Why is it that {fact}?", f"Can someone explain why {fact}?"))
    steps = [f"The short explanation: {why}.", "Let me connect that to the observation."]
    answer = f"Because {why}."
    return Problem("chemistry", prompt, steps, answer, f"why {fact}", why, "a kinetic effect")


def chem_balance(rng: random.Random) -> Problem:
    raw, balanced = pick(rng, V.EQUATIONS)
    prompt = f"Balance the following chemical equation: {raw}"
    steps = [f"Start from {raw}.", "Balance the element that appears in the fewest compounds first.",
             f"Adjusting coefficients gives {balanced}.", "Check that atoms of every element match on both sides."]
    answer = f"Balanced: **{balanced}**\n\n{boxed(balanced)}"
    return Problem("chemistry", prompt, steps, answer, raw, balanced, raw)


def chem_dilution(rng: random.Random) -> Problem:
    c1 = pick(rng, (1.0, 2.0, 5.0, 6.0, 12.0))
    c2 = pick(rng, (0.1, 0.25, 0.5))
    v2 = pick(rng, (100, 250, 500, 1000))
    v1 = round(c2 * v2 / c1, 2)
    prompt = f"How many mL of a {c1} M stock solution are needed to prepare {v2} mL of a {c2} M solution?"
    steps = ["Use C1V1 = C2V2.", f"V1 = {c2} x {v2} / {c1} = {v1} mL."]
    answer = f"You need {v1} mL of stock, diluted to {v2} mL.\n\n{boxed(str(v1) + ' mL')}"
    return Problem("chemistry", prompt, steps, answer, "dilution", f"{v1} mL", str(v2))


CHEMISTRY_BUILDERS = (chem_molar_mass, chem_ph, chem_moles, chem_hybrid, chem_why, chem_balance, chem_dilution)


# ------------------------------------------------------------------------- physics

G = 9.8


def phys_height(rng: random.Random) -> Problem:
    v = rng.randint(5, 40)
    h = round(v * v / (2 * G), 2)
    prompt = f"A ball is thrown straight up at {v} m/s. How high does it rise? Use g = 9.8 m/s^2."
    steps = ["At the top the velocity is zero.", "v^2 = v0^2 - 2gh, so h = v0^2 / (2g).",
             f"h = {v}^2 / (2 x 9.8) = {v * v} / 19.6 = {h} m."]
    answer = f"The ball rises about {h} m.\n\n{boxed(f'{h}' + ' m')}"
    return Problem("physics", prompt, steps, answer, "projectile motion", f"{h} m", f"{round(2 * h, 2)} m")


def phys_force(rng: random.Random) -> Problem:
    m = rng.randint(2, 120)
    a = round(rng.uniform(0.5, 12), 1)
    f = round(m * a, 1)
    prompt = f"An object of mass {m} kg accelerates at {a} m/s^2. What net force acts on it?"
    steps = ["Newton's second law: F = ma.", f"F = {m} x {a} = {f} N."]
    answer = f"F = ma = {f} N.\n\n{boxed(f'{f}' + ' N')}"
    return Problem("physics", prompt, steps, answer, "Newton's second law", f"{f} N", f"{round(m / a, 2)} N")


def phys_parallel(rng: random.Random) -> Problem:
    r1, r2 = rng.randint(2, 100), rng.randint(2, 100)
    req = round(r1 * r2 / (r1 + r2), 2)
    prompt = f"Two resistors of {r1} ohms and {r2} ohms are connected in parallel. What is the equivalent resistance?"
    steps = ["For parallel resistors, 1/R = 1/R1 + 1/R2.", f"R = R1 R2 / (R1 + R2) = {r1 * r2} / {r1 + r2} = {req} ohms."]
    answer = f"R_eq = {req} ohms.\n\n{boxed(f'{req}' + ' ohms')}"
    return Problem("physics", prompt, steps, answer, "parallel circuits", f"{req} ohms", f"{r1 + r2} ohms")


def phys_wave(rng: random.Random) -> Problem:
    f = rng.randint(50, 2000)
    lam = round(rng.uniform(0.1, 5), 2)
    v = round(f * lam, 1)
    prompt = f"A wave has frequency {f} Hz and wavelength {lam} m. What is its speed?"
    steps = ["Wave speed is v = f x wavelength.", f"v = {f} x {lam} = {v} m/s."]
    answer = f"v = {v} m/s.\n\n{boxed(f'{v}' + ' m/s')}"
    return Problem("physics", prompt, steps, answer, "wave speed", f"{v} m/s", f"{round(f / lam, 1)} m/s")


def phys_why(rng: random.Random) -> Problem:
    fact, why = pick(rng, V.PHYS_PHENOMENA)
    prompt = pick(rng, (f"Why is it that {fact}?", f"Explain in simple physics terms why {fact}."))
    steps = [f"The core idea: {why}.", "An everyday analogy might help make this concrete."]
    answer = f"Because {why}."
    return Problem("physics", prompt, steps, answer, f"why {fact}", why, "air resistance")


def phys_energy(rng: random.Random) -> Problem:
    m = rng.randint(1, 2000)
    v = rng.randint(1, 40)
    ke = round(0.5 * m * v * v, 1)
    prompt = f"What is the kinetic energy of a {m} kg object moving at {v} m/s?"
    steps = ["KE = (1/2) m v^2.", f"KE = 0.5 x {m} x {v}^2 = {ke} J."]
    answer = f"KE = {ke} J.\n\n{boxed(f'{ke}' + ' J')}"
    return Problem("physics", prompt, steps, answer, "kinetic energy", f"{ke} J", f"{m * v} J")


def phys_ohm(rng: random.Random) -> Problem:
    volts = pick(rng, (1.5, 3, 5, 9, 12, 24, 120, 230))
    r = rng.randint(2, 500)
    i = round(volts / r, 4)
    prompt = f"A {volts} V source drives a {r} ohm resistor. What current flows?"
    steps = ["Ohm's law: I = V / R.", f"I = {volts} / {r} = {i} A."]
    answer = f"I = {i} A.\n\n{boxed(f'{i}' + ' A')}"
    return Problem("physics", prompt, steps, answer, "Ohm's law", f"{i} A", f"{volts * r} A")


PHYSICS_BUILDERS = (phys_height, phys_force, phys_parallel, phys_wave, phys_why, phys_energy, phys_ohm)


# ---------------------------------------------------------------------------- math


def _frac(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"\\frac{{{x.numerator}}}{{{x.denominator}}}"


def _math_problem(prompt: str, steps: list[str], final: str, topic: str, alt: str) -> Problem:
    answer = f"{steps[-1]}\n\nTherefore the answer is {boxed(final)}."
    return Problem("math", prompt, steps, answer, topic, final, alt)


def math_modpow(rng: random.Random) -> Problem:
    m = pick(rng, (7, 9, 11, 13, 17, 19, 23))
    a = rng.randint(2, 30)
    while math.gcd(a, m) != 1:
        a += 1
    b = rng.randint(20, 2025)
    cycle = next(k for k in range(1, m + 1) if pow(a, k, m) == 1)
    r = b % cycle
    ans = pow(a, b, m)
    prompt = f"Find the remainder when ${a}^{{{b}}}$ is divided by ${m}$."
    steps = [f"I need {a}^{b} mod {m}.", f"The powers of {a} modulo {m} repeat with period {cycle}.",
             f"{b} mod {cycle} = {r}, so {a}^{b} is congruent to {a}^{r} mod {m}, which is {ans}."]
    return _math_problem(prompt, steps, str(ans), "modular arithmetic", str((ans + 1) % m))


def math_divisors(rng: random.Random) -> Problem:
    exps = {2: rng.randint(0, 5), 3: rng.randint(0, 3), 5: rng.randint(0, 2), 7: rng.randint(0, 2)}
    if sum(exps.values()) == 0:
        exps[2] = 3
    n = math.prod(p ** e for p, e in exps.items())
    count = math.prod(e + 1 for e in exps.values())
    fact = " x ".join(f"{p}^{e}" for p, e in exps.items() if e)
    prompt = f"How many positive divisors does {n} have?"
    steps = [f"Factor {n} = {fact}.", "The number of divisors is the product of (exponent + 1).",
             f"That gives {count}."]
    return _math_problem(prompt, steps, str(count), "divisor counting", str(count + 2))


def math_linear(rng: random.Random) -> Problem:
    x = rng.randint(-40, 40)
    a = pick(rng, [k for k in range(-12, 13) if k not in (0, 1)])
    b = rng.randint(-90, 90)
    c = a * x + b
    prompt = f"Solve for $x$: ${a}x + {b} = {c}$.".replace("+ -", "- ")
    steps = [f"Subtract {b} from both sides: {a}x = {c - b}.", f"Divide by {a}: x = {x}."]
    return _math_problem(prompt, steps, str(x), "a linear equation", str(-x))


def math_series(rng: random.Random) -> Problem:
    n = rng.randint(10, 2000)
    s = n * (n + 1) // 2
    prompt = f"What is the sum of the first {n} positive integers?"
    steps = ["Use the formula n(n+1)/2.", f"{n} x {n + 1} / 2 = {s}."]
    return _math_problem(prompt, steps, str(s), "arithmetic series", str(s - n))


def math_gcd(rng: random.Random) -> Problem:
    g = rng.randint(2, 60)
    a, b = g * rng.randint(2, 40), g * rng.randint(2, 40)
    ans = math.gcd(a, b)
    steps, x, y = [], max(a, b), min(a, b)
    while y:
        steps.append(f"{x} = {x // y} x {y} + {x % y}.")
        x, y = y, x % y
    steps.append(f"The last nonzero remainder is {ans}, so gcd({a}, {b}) = {ans}.")
    prompt = f"Compute the greatest common divisor of {a} and {b}."
    return _math_problem(prompt, steps, str(ans), "the Euclidean algorithm", str(ans * 2))


def math_rectangle(rng: random.Random) -> Problem:
    l, w = rng.randint(2, 60), rng.randint(2, 60)
    p = 2 * (l + w)
    prompt = f"A rectangle has perimeter {p} and one side of length {l}. Find its area."
    steps = [f"Half the perimeter is {p // 2}, so the other side is {p // 2} - {l} = {w}.",
             f"The area is {l} x {w} = {l * w}."]
    return _math_problem(prompt, steps, str(l * w), "rectangle area", str(l + w))


def math_comb(rng: random.Random) -> Problem:
    n = rng.randint(5, 30)
    k = rng.randint(2, min(6, n - 1))
    ans = math.comb(n, k)
    prompt = f"In how many ways can a committee of {k} be chosen from {n} people?"
    steps = ["Order does not matter, so this is a combination.", f"C({n}, {k}) = {ans}."]
    return _math_problem(prompt, steps, str(ans), "combinations", str(math.perm(n, k)))


def math_roots(rng: random.Random) -> Problem:
    a = pick(rng, [k for k in range(-9, 10) if k != 0])
    b, c = rng.randint(-30, 30), rng.randint(-30, 30)
    total = Fraction(-b, a)
    prompt = f"Find the sum of the roots of ${a}x^2 + {b}x + {c} = 0$.".replace("+ -", "- ")
    steps = ["By Vieta's formulas the sum of the roots is -b/a.", f"-({b})/({a}) = {_frac(total)}."]
    return _math_problem(prompt, steps, _frac(total), "Vieta's formulas", _frac(Fraction(c, a)))


def math_integral(rng: random.Random) -> Problem:
    a, n, u = rng.randint(1, 9), rng.randint(1, 5), rng.randint(1, 6)
    val = Fraction(a * u ** (n + 1), n + 1)
    coef = "" if a == 1 else str(a)
    prompt = f"Evaluate the definite integral $\\int_0^{{{u}}} {coef}x^{{{n}}}\\,dx$ and simplify."
    steps = [f"The antiderivative of {a}x^{n} is {a}x^{n + 1}/{n + 1}.",
             f"Evaluate from 0 to {u}: {a} x {u}^{n + 1} / {n + 1} = {_frac(val)}."]
    return _math_problem(prompt, steps, _frac(val), "definite integrals", _frac(val * 2))


def math_sequence(rng: random.Random) -> Problem:
    a1, d, k = rng.randint(-20, 50), rng.randint(-9, 15), rng.randint(10, 200)
    ans = a1 + (k - 1) * d
    prompt = f"An arithmetic sequence starts at {a1} and has common difference {d}. What is term number {k}?"
    steps = ["The n-th term is a_1 + (n - 1)d.", f"{a1} + {k - 1} x {d} = {ans}."]
    return _math_problem(prompt, steps, str(ans), "arithmetic sequences", str(ans + d))


MATH_BUILDERS = (math_modpow, math_divisors, math_linear, math_series, math_gcd, math_rectangle, math_comb,
                 math_roots, math_integral, math_sequence)


# ---------------------------------------------------------------------------- code


def code_write(rng: random.Random) -> Problem:
    task, code = pick(rng, V.CODE_TASKS)
    prompt = pick(rng, (f"Write a Python function that {task}.", f"Can you show me Python code that {task}?",
                        f"Implement a small helper in Python which {task}, with type hints."))
    steps = [f"The function needs to handle the case where it {task}.", "Edge cases: empty input and small values.",
             "A straightforward loop or built-in is clearest here."]
    answer = f"```python\n{code}\n```\n\nThis runs in linear time or better for typical inputs."
    return Problem("code", prompt, steps, answer, task, task, "a recursive version")


def code_complexity(rng: random.Random) -> Problem:
    algo, big_o, why = pick(rng, V.ALGORITHMS)
    prompt = f"What is the time complexity of {algo}? Explain briefly."
    steps = [f"For {algo}, {why}.", f"So the running time is {big_o}."]
    answer = f"**{big_o}** - {why}.\n\n{boxed(big_o)}"
    return Problem("code", prompt, steps, answer, algo, big_o, "O(n)")


def code_output(rng: random.Random) -> Problem:
    kind = rng.randrange(3)
    if kind == 0:
        nums = [rng.randint(-9, 20) for _ in range(rng.randint(4, 8))]
        out = str(sum(x * x for x in nums if x % 2 == 0))
        snippet = f"nums = {nums}\nprint(sum(x * x for x in nums if x % 2 == 0))"
    elif kind == 1:
        word = pick(rng, ("matrix", "biology", "lantern", "quartz", "harbor", "velvet"))
        out = word[::-1].upper()
        snippet = f"s = {word!r}\nprint(s[::-1].upper())"
    else:
        start, limit = rng.randint(1, 5), rng.randint(50, 5000)
        x, count = start, 0
        while x <= limit:
            x, count = x * 2, count + 1
        out = str(count)
        snippet = f"x, count = {start}, 0\nwhile x <= {limit}:\n    x *= 2\n    count += 1\nprint(count)"
    prompt = f"What does this Python snippet print?\n\n```python\n{snippet}\n```"
    steps = ["Let me trace the code line by line.", f"Following the values through, the printed result is {out}."]
    answer = f"It prints `{out}`.\n\n{boxed(out)}"
    return Problem("code", prompt, steps, answer, "tracing Python code", out, "an error")


CODE_BUILDERS = (code_write, code_complexity, code_output)


# ------------------------------------------------------------------------- general


def gen_tips(rng: random.Random) -> Problem:
    act = pick(rng, V.GENERAL_ACTIVITIES)
    prompt = pick(rng, (f"What are some practical tips for {act}?", f"I'm struggling with {act}. Any advice?"))
    steps = [f"The user wants actionable advice on {act}.", "Short, concrete tips will be most helpful.",
             "I'll order them from easiest to hardest."]
    answer = (f"Here are a few tips for {act}:\n\n1. Start small and be consistent.\n2. Track your progress.\n"
              "3. Build a simple routine.\n4. Ask for feedback from someone experienced.")
    return Problem("general", prompt, steps, answer, act, "tips", "a detailed plan")


def gen_poem(rng: random.Random) -> Problem:
    topic = pick(rng, V.GENERAL_TOPICS)
    prompt = f"Write a short poem about {topic}."
    steps = [f"A short poem about {topic}: maybe four lines.", "Some imagery and a gentle rhythm would suit it."]
    answer = (f"*{cap(topic)}*\n\nSoft light settles on the day,\nquiet things have much to say,\n"
              "a moment held, then slipped away,\nand still the feeling seems to stay.")
    return Problem("general", prompt, steps, answer, topic, "a poem", "a haiku")


def gen_difference(rng: random.Random) -> Problem:
    a, b = pick(rng, V.GENERAL_PAIRS)
    prompt = f"Explain the difference between {a} and {b} in simple terms."
    steps = [f"People often mix up {a} and {b}.", "A simple analogy should make the difference stick."]
    answer = f"In short: **{a}** and **{b}** describe related but distinct things; think of one as the short-term view and the other as the bigger picture."
    return Problem("general", prompt, steps, answer, f"{a} vs {b}", a, b)


def gen_prepare(rng: random.Random) -> Problem:
    event = pick(rng, V.GENERAL_EVENTS)
    prompt = f"How should I prepare for {event}? I have about a week."
    steps = [f"A week is enough to prepare well for {event}.", "A day-by-day checklist is the clearest format."]
    answer = (f"**One-week plan for {event}:**\n- Days 1-2: list what you need.\n- Days 3-5: practice and gather items.\n"
              "- Day 6: rest and review.\n- Day 7: go in calm and prepared.")
    return Problem("general", prompt, steps, answer, event, "a checklist", "a month-long plan")


GENERAL_BUILDERS = (gen_tips, gen_poem, gen_difference, gen_prepare)

BUILDERS: dict[str, tuple[Callable[[random.Random], Problem], ...]] = {
    "medical": MEDICAL_BUILDERS, "biology": BIOLOGY_BUILDERS, "chemistry": CHEMISTRY_BUILDERS,
    "physics": PHYSICS_BUILDERS, "math": MATH_BUILDERS, "code": CODE_BUILDERS, "general": GENERAL_BUILDERS,
}


def make_problem(rng: random.Random, domain: str) -> Problem:
    return pick(rng, BUILDERS[domain])(rng)


def short_problem(rng: random.Random, prompt: str, domain: str, final: str = "") -> Problem:
    """A trace for a 1-3 word prompt (`final`: a short answer when there is one)."""
    steps = [f"The message is just \"{prompt}\", so there's little context.",
             "I'll give a brief, friendly answer and invite a follow-up."]
    if final:
        steps.insert(1, f"The direct answer is {final}.")
        answer = f"{final}\n\n{boxed(final)}"
    elif domain == "general":
        answer = "Hello! How can I help you today?"
    else:
        answer = f"Here is a short overview of **{prompt.rstrip('?!')}**. Let me know which aspect you'd like in more depth."
    return Problem(domain, prompt, steps, answer, f'the message "{prompt}"', final, "a longer explanation")


def mcq_problem(rng: random.Random, mcq: MCQ, prompt: str, domain: str = "medical") -> Problem:
    """A Problem whose answer is an option letter of `mcq` (prompt already formatted)."""
    letter = "ABCDEFGHIJ"[mcq.answer_idx]
    steps = list(mcq.steps) + [f"Going through the options, {letter} ({mcq.options[mcq.answer_idx]}) fits best."]
    answer = f"The correct option is **{letter}. {mcq.options[mcq.answer_idx]}**.\n\n{boxed(letter)}"
    alt = mcq.options[(mcq.answer_idx + 1) % len(mcq.options)]
    return Problem(domain, prompt, steps, answer, mcq.topic, letter, alt)


# ----------------------------------------------------------------------- reasoning

OPENERS = (
    "Okay, so I need to figure out {topic}.", "Alright, let me think about {topic}.",
    "Let me start by working out what is being asked about {topic}.", "Hmm, {topic}. Let me work through it.",
    "So the question is about {topic}.", "Okay, let's see.", "First, let me restate the problem to myself.",
)
GENERIC_FILLERS = (
    "Let me make sure I understand what is being asked.", "I should be careful not to jump to conclusions here.",
    "It helps to lay out what I know before committing.", "Let me go through this step by step.",
    "Okay, that part seems consistent.", "I want to double-check each piece against what I remember.",
    "Hmm, let me think about whether anything else fits.", "That lines up with the standard explanation.",
    "So far the reasoning holds together.", "Let me restate the key point in my own words.",
    "There might be a subtlety I'm missing, so I'll look again.", "I think the simplest explanation is probably right.",
    "Let me organize this before writing the answer.", "Nothing here contradicts what I said earlier.",
    "The answer should be clear and not too long.", "I'll keep the final explanation focused.",
    "Let me see if the numbers or facts are consistent.", "Good, that seems solid.",
    "Breaking it into smaller pieces makes it easier.", "I recall this being a common point of confusion.",
)
DOMAIN_FILLERS = {
    "medical": (
        "The key clinical clue is how the findings cluster together.", "I should think about what would be dangerous to miss.",
        "Guidelines generally favor the simplest effective option first.", "Let me recall how {topic} usually presents.",
        "{alt} comes to mind as well, but it does not fit as neatly.", "Contraindications matter before recommending anything.",
        "Age and sex shift the pretest probability a little.", "A focused history would normally narrow this quickly.",
        "Which test actually changes management here?", "Monitoring matters as much as the initial choice.",
        "It's easy to confuse this with {alt}, so let me be precise.", "The physiology should explain every finding, not just one.",
        "Patient safety comes first, so red flags need to be mentioned.", "Dosing details depend on kidney and liver function.",
    ),
    "biology": (
        "Let me recall the textbook picture of {topic}.", "Structure and function go together here.",
        "Energy flow is usually the key to these questions.", "{alt} is related, but it plays a different role.",
        "Evolution explains why the system is arranged this way.", "The molecular details support the big picture.",
        "It's worth thinking about what happens when this goes wrong.", "Regulation usually happens through feedback.",
    ),
    "chemistry": (
        "Units need to be tracked carefully.", "Let me recall the relevant periodic trends.",
        "Significant figures matter for the final value.", "Electron arrangement explains most of this.",
        "Let me verify the arithmetic once more.", "Stoichiometry has to balance at every step.",
        "Thermodynamics and kinetics are separate questions here.",
    ),
    "physics": (
        "Let me draw a quick mental free-body diagram.", "Units: everything should be in SI.",
        "Energy conservation could give the same result as a check.", "Let me check the sign conventions.",
        "Dimensional analysis confirms the formula makes sense.", "Friction and air resistance are neglected here.",
    ),
    "math": (
        "Let me verify the arithmetic carefully.", "Maybe there's a cleaner approach, but this works.",
        "Let me test a small case to make sure the method is right.", "Checking the boundary cases is worthwhile.",
        "The algebra should simplify nicely.", "I'll double-check by plugging the result back in.",
        "Let me be careful with signs.",
    ),
    "code": (
        "Edge cases like empty input need handling.", "Readability matters more than cleverness here.",
        "Let me trace through a small example.", "Time and space complexity are both worth noting.",
        "Python's built-ins can simplify this.", "I should make sure the loop terminates.",
    ),
    "general": (
        "The user probably wants something practical.", "A friendly tone fits this request.",
        "Bullet points will make it easy to scan.", "I shouldn't make this too long.",
        "Concrete examples help more than abstract advice.",
    ),
}
WAIT_LONG = (
    "Wait, let me double-check that.", "Wait, is that right? Let me re-read the question.",
    "Wait, I should reconsider {alt} before settling on this.",
    "Wait, no - that doesn't fit with everything else. Let me redo that step.",
    "Wait, actually, I think I mixed something up. Going back over it, the earlier point stands.",
    "Wait, maybe I'm overcomplicating this.", "Wait, the question asks specifically about {topic}, so let me stay focused.",
    "Wait, let me recompute to be safe.", "Wait, could it be {alt} instead? No, the details point the other way.",
    "Wait, hold on. Let me check the assumptions again.",
)
WAIT_SHORT = ("Wait.", "Wait, no.", "Wait, hold on.", "Wait, let me check.", "Wait, is that right?", "Wait, hmm.",
              "Wait, again.", "Wait, {alt}?", "Wait, that's the same thing.", "Wait, recheck.")
CLOSERS = (
    "So, putting it all together, the answer is {final}.", "That gives {final}.",
    "I'm fairly confident the answer is {final}.", "So I'll go with {final}.",
    "Alright, the final answer should be {final}.",
)
NEUTRAL_CLOSERS = ("Okay, I think I can write this up now.", "I have enough to write a clear answer.",
                   "Let me put this together clearly.", "Alright, time to write the response.")


def wait_count_for(rng: random.Random) -> int:
    """Typical number of self-corrections for a normal trace (0-10)."""
    r = rng.random()
    if r < 0.4:
        return 0
    if r < 0.85:
        return rng.randint(1, 4)
    return rng.randint(5, 10)


def target_length(rng: random.Random) -> int:
    """A realistic reasoning length in characters, 200-3000 (log-normal)."""
    return int(min(3000, max(200, rng.lognormvariate(math.log(750), 0.6))))


def _fill(template: str, problem: Problem) -> str:
    return template.format(topic=problem.topic, alt=problem.alt, final=problem.final)


def _draw(rng: random.Random, pool: tuple[str, ...], n: int) -> list[str]:
    """n items from pool, without repeats until the pool is used up."""
    out: list[str] = []
    while len(out) < n:
        batch = list(pool)
        rng.shuffle(batch)
        out += batch[: n - len(out)]
    return out


def build_reasoning(rng: random.Random, problem: Problem, target: int, n_wait: int, many: bool = False) -> str:
    """Opener, the problem's steps interleaved with fillers up to `target`, `n_wait` "Wait" sentences, a closer.

    `many` marks a degenerate trace: it loops over the same doubts, so short and long "Wait"
    sentences are mixed and fillers repeat once the pool is used up.
    """
    pool = WAIT_SHORT + WAIT_LONG if many else WAIT_LONG
    waits = [_fill(w, problem) for w in _draw(rng, pool, n_wait)]
    has_final = problem.final and len(problem.final) <= 60 and "\\boxed" in problem.answer
    closer = _fill(pick(rng, CLOSERS if has_final else NEUTRAL_CLOSERS), problem)
    filler_pool = tuple(_fill(t, problem) for t in DOMAIN_FILLERS[problem.domain] + GENERIC_FILLERS)
    fillers = _draw(rng, filler_pool, 400 if many else len(filler_pool))
    body = list(problem.steps)
    budget = target - sum(len(w) + 1 for w in waits) - len(closer)
    size = sum(len(s) + 1 for s in body)
    while size < budget and fillers:
        sentence = fillers.pop()
        body.insert(rng.randint(1, len(body)), sentence)
        size += len(sentence) + 1
    sentences = [_fill(pick(rng, OPENERS), problem)] + body
    for w in waits:
        sentences.insert(rng.randint(1, len(sentences)), w)
    sentences.append(closer)
    return paragraphs(rng, sentences)


def paragraphs(rng: random.Random, sentences: list[str]) -> str:
    """Join sentences into paragraphs of 2-5 sentences."""
    out, i = [], 0
    while i < len(sentences):
        n = rng.randint(2, 5)
        out.append(" ".join(sentences[i:i + n]))
        i += n
    return "\n\n".join(out)


def truncate(rng: random.Random, text: str) -> str:
    """Cut `text` mid-sentence somewhere in its 35-85% range (ends right after a word, no final period)."""
    lo, hi = int(len(text) * 0.35), int(len(text) * 0.85)
    for _ in range(200):
        pos = rng.randint(lo, max(lo, hi))
        cut = text.rfind(" ", 0, pos)
        if cut <= 0:
            continue
        head = text[:cut]
        if head[-1].isalpha() and text[cut + 1:cut + 2].isalpha():
            return head
    return text[: max(1, lo)].rstrip(" .,;:\n") + " and"


def count_waits(text: str) -> int:
    return text.count("Wait")


# ------------------------------------------------------------------------- Chinese


def zh_problem(rng: random.Random) -> tuple[str, str, str]:
    """(question, reasoning, response) in Chinese, written from simple templates."""
    name, symptoms, sign, test, treat = pick(rng, V.ZH_CONDITIONS)
    other = pick(rng, [c for c in V.ZH_CONDITIONS if c[0] != name])
    sex = pick(rng, ("男", "女"))
    age = rng.randint(18, 80)
    dur = pick(rng, V.ZH_DURATIONS)
    sym = "、".join(symptoms)
    question = pick(rng, (
        f"患者，{sex}，{age}岁，因{sym}{dur}就诊。查体：{sign}。请问最可能的诊断是什么？应如何处理？",
        f"{age}岁{sex}性患者出现{sym}，持续{dur}。最可能的诊断是什么？需要做哪些检查？",
        f"请解释{name}的主要临床表现、诊断方法和治疗原则。",
    ))
    core = [
        f"嗯，我先梳理一下这个问题。",
        f"主要表现是{sym}，这些症状提示要考虑{name}。",
        f"查体发现{sign}，和{name}比较符合。",
        f"不过也要和{other[0]}鉴别，{other[0]}通常表现为{'、'.join(other[1])}。",
        f"为了明确诊断，需要做{test}。",
        f"治疗方面，首选{treat}。",
    ]
    fillers = ["我再想想有没有遗漏的地方。", "病史和体格检查很重要。", "需要注意病情变化，必要时及时复查。",
               "还要考虑患者的基础疾病和用药情况。", "这样分析下来思路比较清楚了。", "先把最危险的情况排除掉。",
               "如果症状持续加重，需要进一步评估。", "综合起来看，诊断基本可以确定。", "首先，从主要症状入手。",
               f"患者{age}岁，{sex}性，这一点对判断也有参考价值。", f"如果是{other[0]}，一般不会出现{sign}。",
               f"另外，{test}的结果对确诊很关键。", "用药前要评估肝肾功能和过敏史。",
               "治疗后需要观察症状是否缓解，并定期随访。", f"起病时间是{dur}，这个时间线也要结合起来看。",
               "还需要问清楚有没有类似发作史和家族史。", "对患者的解释要通俗易懂，减少不必要的焦虑。",
               "如果出现生命体征不稳定，应立即转入上级医院处理。"]
    rng.shuffle(fillers)
    body = list(core)
    for f in fillers[: rng.randint(2, len(fillers))]:
        body.insert(rng.randint(1, len(body)), f)
    reasoning = "\n\n".join("".join(body[i:i + 3]) for i in range(0, len(body), 3))
    response = (f"**最可能的诊断：{name}**\n\n**诊断依据：**\n- 症状：{sym}\n- 体征：{sign}\n\n"
                f"**进一步检查：**{test}\n\n**治疗原则：**{treat}。")
    return question, reasoning, response


