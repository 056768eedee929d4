"""Mock evaluation sets in the public harness layouts (all text written here).

Questions come from templates with many slots (ages, sexes, vitals,
symptoms, drugs, organisms, study designs) and a `Registry` rejects any new
stem whose `fuzz.ratio` with an earlier one is >= 90, so no two distinct
questions are near-identical. The wording is kept apart from the training
templates in `textgen.py` and `seeds.py`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Callable

from rapidfuzz import fuzz, process

from medical_assets.sample import vocab as V
from medical_assets.sample.textgen import cap, pick

LETTERS = "ABCDEFGHIJ"


@dataclass
class BenchItem:
    """One benchmark row plus what a planted trace needs to reason about it."""

    question: str
    options: dict[str, str]
    answer_idx: str
    topic: str
    facts: list[str] = field(default_factory=list)  # sentences a reasoning trace may use
    extra: dict = field(default_factory=dict)  # layout-specific fields (MedXpertQA)

    @property
    def answer(self) -> str:
        return self.options[self.answer_idx]

    def options_text(self) -> str:
        return "\n".join(f"{k}. {v}" for k, v in self.options.items())

    def row(self) -> dict:
        """The HuatuoGPT-o1 / m1 row layout."""
        return {"question": self.question, "options": dict(self.options), "answer": self.answer,
                "answer_idx": self.answer_idx}


class Registry:
    """Accepts a question only if it is not a near-duplicate (fuzz.ratio >= 90) of an accepted one."""

    def __init__(self) -> None:
        self.questions: list[str] = []

    def accept(self, question: str) -> bool:
        if process.extractOne(question, self.questions, scorer=fuzz.ratio, score_cutoff=90) is not None:
            return False
        self.questions.append(question)
        return True


def deterministic_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_options(rng: random.Random, right: str, pool: list[str], n: int) -> tuple[dict[str, str], str]:
    """n options (one right answer, n-1 distinct distractors from pool) in random order."""
    wrong = rng.sample(sorted(set(p for p in pool if p != right)), n - 1)
    items = [cap(t) for t in wrong + [right]]
    rng.shuffle(items)
    options = {LETTERS[i]: text for i, text in enumerate(items)}
    return options, LETTERS[items.index(cap(right))]


def collect(rng: random.Random, registry: Registry, build: Callable[[random.Random], BenchItem], n: int,
            max_tries: int = 5000) -> list[BenchItem]:
    """n items from `build`, skipping near-duplicates of anything accepted before."""
    items: list[BenchItem] = []
    for _ in range(max_tries):
        if len(items) == n:
            return items
        item = build(rng)
        if registry.accept(item.question):
            items.append(item)
    raise RuntimeError(f"could only build {len(items)} of {n} distinct benchmark questions")


def ragged(rng: random.Random, text: str) -> str:
    """Sometimes end a string with a newline or a trailing space, as the real files do."""
    r = rng.random()
    if r < 0.08:
        return text + "\n"
    if r < 0.14:
        return text + " "
    return text


# ----------------------------------------------------------------- patient details


@dataclass
class Patient:
    age: int
    sex: str

    @property
    def noun(self) -> str:
        adult, child = ("man", "boy") if self.sex == "male" else ("woman", "girl")
        return adult if self.age >= 18 else child

    @property
    def desc(self) -> str:
        """E.g. "An 84-year-old woman" (capitalized; use .lower() mid-sentence on the first word)."""
        article = "An" if self.age in (8, 11, 18) or 80 <= self.age <= 89 else "A"
        return f"{article} {self.age}-year-old {self.noun}"

    @property
    def mid(self) -> str:
        return self.desc[0].lower() + self.desc[1:]

    def history(self, rng: random.Random, k: int = 1) -> list[str]:
        return rng.sample(list(V.HISTORY_ITEMS if self.age >= 18 else V.CHILD_HISTORY), k)

    def habit(self, rng: random.Random) -> str:
        return pick(rng, V.HABITS if self.age >= 18 else V.CHILD_HABITS)

    @property
    def he(self) -> str:
        return "He" if self.sex == "male" else "She"

    @property
    def his(self) -> str:
        return "his" if self.sex == "male" else "her"


def patient_for(rng: random.Random, c: V.Condition) -> Patient:
    sex = c.sex if c.sex != "any" and rng.random() < 0.85 else pick(rng, ("male", "female"))
    if c.name == "preeclampsia":
        sex = "female"
    return Patient(rng.randint(*c.ages), sex)


def duration(rng: random.Random, c: V.Condition) -> str:
    """A symptom duration that suits how fast the condition evolves."""
    return pick(rng, V.DURATIONS[V.course_of(c.name)])


def vitals(rng: random.Random, c: V.Condition) -> tuple[float, float, int, int, int, int]:
    """(temp C, temp F, pulse, respirations, systolic, diastolic)."""
    t = round(rng.uniform(38.2, 40.1) if c.fever else rng.uniform(36.5, 37.4), 1)
    sbp, dbp = (rng.randint(152, 178), rng.randint(100, 114)) if c.name == "preeclampsia" else \
        (rng.randint(92, 158), rng.randint(54, 96))
    return (t, round(t * 9 / 5 + 32, 1), rng.randint(58, 128), rng.randint(12, 28), sbp, dbp)


QTYPES = {
    "dx": ("Which of the following is the most likely diagnosis?", lambda c: c.name,
           lambda: [x.name for x in V.CONDITIONS]),
    "tx": ("Which of the following is the most appropriate next step in management?", lambda c: c.treatment,
           lambda: [x.treatment for x in V.CONDITIONS]),
    "test": ("Which of the following is most likely to confirm the diagnosis?", lambda c: c.test,
             lambda: [x.test for x in V.CONDITIONS]),
    "mech": ("Which of the following best explains the underlying pathophysiology?", lambda c: c.mechanism,
             lambda: [x.mechanism for x in V.CONDITIONS]),
}


def _facts(c: V.Condition) -> list[str]:
    return [f"The picture fits {c.name}.", f"{cap(c.sign)} is a characteristic finding.",
            f"{cap(c.test)} would show {c.result}.", f"Management centers on {c.treatment}.",
            f"The mechanism is {c.mechanism}."]


# ----------------------------------------------------------------- HuatuoGPT-o1 sets


def medqa_item(rng: random.Random) -> BenchItem:
    """A USMLE-style vignette with vitals, examination and four options."""
    c = pick(rng, V.CONDITIONS)
    p = patient_for(rng, c)
    s1, s2, s3 = rng.sample(list(c.symptoms), 3)
    dur = duration(rng, c)
    opening = pick(rng, (
        f"{p.desc} presents to the {pick(rng, V.SETTINGS)} because of {dur} of {s1} and {s2}.",
        f"{p.desc} comes to the physician with a {dur.replace(' ', '-').rstrip('s')} history of {s1}. "
        f"{p.he} also notes {s2}.",
        f"{p.desc} is brought to the {pick(rng, V.SETTINGS)} by a family member because of "
        f"{s1} that began {dur} ago.",
    ))
    h1, h2 = p.history(rng, 2)
    history = pick(rng, (f"{p.he} has a history of {h1} and {h2}.", f"{cap(p.his)} past medical history is "
                         f"significant for {h1}.", f"{p.he} has no significant past medical history."))
    habit = f"{p.he} {p.habit(rng)}."
    tc, tf, pulse, resp, sbp, dbp = vitals(rng, c)
    vit = (f"{cap(p.his)} temperature is {tc}°C ({tf}°F), pulse is {pulse}/min, respirations are {resp}/min, "
           f"and blood pressure is {sbp}/{dbp} mm Hg.")
    exam = f"Physical examination shows {c.sign}."
    extra = pick(rng, (f"There is also a report of {s3}.", ""))
    qtype = pick(rng, ("dx", "dx", "tx", "test", "mech"))
    lab = "" if qtype == "test" else pick(rng, (f"{cap(c.test)} shows {c.result}.",
                                               f"Further evaluation is notable for {c.result}."))
    stem, right, pool = QTYPES[qtype]
    text = " ".join(s for s in (opening, history, habit, vit, exam, extra, lab, stem) if s)
    options, idx = make_options(rng, right(c), pool(), 4)
    return BenchItem(text, options, idx, c.name, _facts(c))


def medmcqa_item(rng: random.Random) -> BenchItem:
    """A short one-line exam question with four options."""
    kind = rng.randrange(8)
    if kind == 0:
        d = pick(rng, V.DRUGS)
        opts, idx = make_options(rng, d.name, [x.name for x in V.DRUGS if x.use != d.use], 4)
        q = pick(rng, (f"Drug of choice for {d.use} is", f"Drug of choice in {d.use}:"))
        return BenchItem(q, opts, idx, d.name, [f"{cap(d.name)} is used for {d.use}."])
    if kind == 1:
        d = pick(rng, V.DRUGS)
        opts, idx = make_options(rng, d.mechanism, [x.mechanism for x in V.DRUGS], 4)
        q = pick(rng, (f"{cap(d.name)} acts by:", f"Mode of action of {d.name}:"))
        return BenchItem(q, opts, idx, d.name, [f"{cap(d.name)} {d.mechanism}."])
    if kind == 2:
        d = pick(rng, V.DRUGS)
        opts, idx = make_options(rng, d.adverse, [x.adverse for x in V.DRUGS], 4)
        q = pick(rng, (f"Characteristic adverse effect of {d.name} is:", f"{cap(d.name)} is known to cause:"))
        return BenchItem(q, opts, idx, d.name, [f"{cap(d.name)} can cause {d.adverse}."])
    if kind == 3:
        o = pick(rng, V.ORGANISMS)
        opts, idx = make_options(rng, o.disease, [x.disease for x in V.ORGANISMS], 4)
        return BenchItem(f"{o.name} is the causative agent of", opts, idx, o.name, [f"{o.name} causes {o.disease}."])
    if kind == 4:
        c = pick(rng, V.CONDITIONS)
        other = pick(rng, [x for x in V.CONDITIONS if x.system != c.system and set(x.symptoms) - set(c.symptoms)])
        wrong = pick(rng, [x for x in other.symptoms if x not in c.symptoms])
        items = [cap(t) for t in list(c.symptoms) + [wrong]]
        rng.shuffle(items)
        opts = {LETTERS[i]: t for i, t in enumerate(items)}
        q = f"All of the following are features of {c.name} except"
        return BenchItem(q, opts, LETTERS[items.index(cap(wrong))], c.name, [f"{cap(wrong)} is not typical of {c.name}."])
    if kind == 5:
        c = pick(rng, V.CONDITIONS)
        opts, idx = make_options(rng, c.test, [x.test for x in V.CONDITIONS], 4)
        return BenchItem(f"Investigation of choice for {c.name} is", opts, idx, c.name, [f"{cap(c.test)} confirms it."])
    if kind == 6:
        c = pick(rng, [x for x in V.CONDITIONS if not x.sign.startswith(("a normal", "tachycardia", "mild"))])
        opts, idx = make_options(rng, c.name, [x.name for x in V.CONDITIONS], 4)
        return BenchItem(f"{cap(c.sign)} is seen in", opts, idx, c.name, [f"{cap(c.sign)} points to {c.name}."])
    o = pick(rng, V.ORGANISMS)
    opts, idx = make_options(rng, o.kind, [x.kind for x in V.ORGANISMS], 4)
    return BenchItem(f"On Gram stain or culture, {o.name} appears as a", opts, idx, o.name, [f"It is a {o.kind}."])


PUBMED_INSTRUCTION = "Using only the evidence in the abstract above, decide whether the answer is yes, no, or maybe."
INTERVENTIONS = ("early mobilization", "a text-message reminder program", "preoperative carbohydrate loading",
                 "vitamin D supplementation", "structured telephone follow-up", "a pharmacist-led medication review",
                 "high-flow nasal oxygen", "tranexamic acid", "a school-based exercise program", "mindfulness training",
                 "continuous glucose monitoring", "a nurse-led discharge bundle", "prehabilitation",
                 "intermittent fasting", "video-assisted consent")
POPULATIONS = ("adults undergoing hip arthroplasty", "children with persistent asthma", "older adults with heart failure",
               "patients admitted with pneumonia", "women with gestational diabetes", "nursing home residents",
               "adults with type 2 diabetes", "adolescents with depressive symptoms", "patients after cardiac surgery",
               "emergency patients with acute chest pain", "patients on maintenance hemodialysis",
               "survivors of ischemic stroke")
OUTCOMES = ("length of hospital stay", "30-day readmission", "medication adherence", "postoperative delirium",
            "glycated hemoglobin at six months", "the rate of falls", "transfusion requirements", "symptom burden",
            "quality-of-life scores", "unplanned clinic visits")
DESIGNS = ("randomized controlled trial", "retrospective cohort study", "prospective cohort study",
           "case-control study", "cluster-randomized trial", "propensity-matched analysis")
SETTINGS_STUDY = ("a tertiary referral center", "three community hospitals", "a university teaching hospital",
                  "12 primary care practices", "two regional health systems", "a national registry")


def pubmedqa_item(rng: random.Random) -> BenchItem:
    """A made-up structured abstract, the fixed instruction and a yes/no/maybe research question."""
    inter, pop, out = pick(rng, INTERVENTIONS), pick(rng, POPULATIONS), pick(rng, OUTCOMES)
    design, site = pick(rng, DESIGNS), pick(rng, SETTINGS_STUDY)
    n = rng.randint(48, 4200)
    a, b = round(rng.uniform(8, 45), 1), round(rng.uniform(8, 45), 1)
    verdict = pick(rng, ("yes", "no", "maybe"))
    if verdict == "yes":
        b = round(a * rng.uniform(0.45, 0.8), 1)
        pval, concl = f"P = {pick(rng, ('0.001', '0.003', '0.01', '0.02'))}", f"{cap(inter)} was associated with an improvement in {out}."
    elif verdict == "no":
        b = round(a * rng.uniform(0.93, 1.07), 1)
        pval, concl = f"P = {round(rng.uniform(0.3, 0.9), 2)}", f"{cap(inter)} did not change {out}."
    else:
        b = round(a * rng.uniform(0.75, 0.9), 1)
        pval, concl = f"P = {round(rng.uniform(0.05, 0.12), 2)}", "The findings were inconclusive and larger studies are needed."
    background = pick(rng, (
        f"Background: Whether {inter} benefits {pop} remains uncertain.",
        f"Background: {cap(out)} is a major concern among {pop}, and {inter} has been proposed to address it.",
        f"Objective: To evaluate the effect of {inter} on {out} among {pop}.",
    ))
    methods = pick(rng, (
        f"Methods: We conducted a {design} at {site} including {n} participants enrolled between "
        f"{rng.randint(2005, 2016)} and {rng.randint(2017, 2022)}.",
        f"Methods: In this {design}, {n} {pop} from {site} were followed for {rng.randint(3, 36)} months.",
    ))
    results = (f"Results: The primary outcome occurred in {b}% of the intervention group and {a}% of the comparison "
               f"group ({pval}). {pick(rng, ('Secondary outcomes were similar.', 'Adverse events were rare.', 'No subgroup differences were found.', 'Adherence to the protocol exceeded 80%.'))}")
    abstract = " ".join((background, methods, results, "Conclusions: " + concl))
    question = pick(rng, (f"Does {inter} improve {out} in {pop}?", f"Is {inter} effective for {out} among {pop}?",
                          f"Should {inter} be recommended to reduce problems with {out} in {pop}?"))
    text = f"{abstract}\n\n{PUBMED_INSTRUCTION}\n{question}"
    options = {"A": "yes", "B": "no", "C": "maybe"}
    return BenchItem(text, options, "ABC"["yes no maybe".split().index(verdict)], inter,
                     [f"The results favour the answer {verdict}.", concl])


def mmlu_item(rng: random.Random, n_options: int | None = None) -> BenchItem:
    """A knowledge question with 4-10 options (MMLU-Pro health/biology style)."""
    n = n_options or rng.randint(4, 10)
    kind = rng.randrange(6)
    if kind == 0:
        d = pick(rng, V.DRUGS)
        q = f"Which of the following describes how {d.name}, a {d.drug_class}, produces its therapeutic effect?"
        right, pool, topic = d.mechanism, [x.mechanism for x in V.DRUGS], d.name
    elif kind == 1:
        d = pick(rng, V.DRUGS)
        q = f"An individual started on {d.name} for {d.use} should be counselled most specifically about which risk?"
        right, pool, topic = d.adverse, [x.adverse for x in V.DRUGS], d.name
    elif kind == 2:
        o = pick(rng, V.ORGANISMS)
        q = f"Which of the following pathogens, described as a {o.kind}, is classically responsible for {o.disease}?"
        right, pool, topic = o.name, [x.name for x in V.ORGANISMS], o.name
    elif kind == 3:
        c = pick(rng, V.CONDITIONS)
        q = f"In a suspected case of {c.name}, which result would provide the strongest support for the diagnosis?"
        right, pool, topic = c.result, [x.result for x in V.CONDITIONS], c.name
    elif kind == 4:
        name, process_, role = pick(rng, V.ORGANELLES)
        q = f"Cells rely on which structure to {role}?"
        right, pool, topic = name, [x[0] for x in V.ORGANELLES], name
    else:
        h, target, effect = pick(rng, V.HORMONES)
        q = f"Which of the following signaling molecules {effect}, thereby adjusting {target}?"
        right, pool, topic = h, [x[0] for x in V.HORMONES], h
    n = min(n, len(set(pool)))
    options, idx = make_options(rng, right, pool, n)
    return BenchItem(q, options, idx, topic, [f"The correct choice is {right}."])


# Eight hard questions, repeated in five identical blocks as in the public file.
GPQA_QUESTIONS: tuple[tuple[str, tuple[str, str, str, str], int], ...] = (
    ("A lab knocks out the gene encoding a deubiquitinase that normally stabilizes a transcription factor driving "
     "hypoxia-responsive genes. Under 1% oxygen the cells fail to raise the factor's protein level although its mRNA "
     "is unchanged. Which step is most directly impaired?",
     ("Removal of polyubiquitin chains that target the factor to the proteasome", "Splicing of the factor's pre-mRNA",
      "Hydroxylation of proline residues by oxygen-dependent enzymes", "Nuclear export of the factor's transcript"), 0),
    ("A cardiomyocyte line carries a gain-of-function variant that slows inactivation of the late sodium current. "
     "Which change in the surface electrocardiogram of a carrier is expected first?",
     ("Shortened PR interval", "Prolonged QT interval", "Widened P wave", "Delta wave before the QRS"), 1),
    ("Investigators give a competitive antagonist at a Gq-coupled receptor and then add increasing agonist doses. "
     "How does the agonist's concentration-response curve change?",
     ("Rightward shift with an unchanged maximal response", "Downward shift with reduced maximal response",
      "Leftward shift with increased potency", "No change because the receptors are spare"), 0),
    ("A bacterial isolate becomes resistant to a fluoroquinolone after serial passage, and sequencing shows a point "
     "change in one gene. Which gene most plausibly carries the change?",
     ("The gene for the beta subunit of RNA polymerase", "The gene for a penicillin-binding protein",
      "The gene for the A subunit of DNA gyrase", "The gene for the 16S ribosomal RNA"), 2),
    ("A kindred shows an autosomal dominant trait in which affected members make a truncated protein that still forms "
     "homodimers but cannot bind DNA. Heterozygotes are severely affected. What best explains the severity?",
     ("Haploinsufficiency of the normal allele", "Dominant-negative interference by the truncated product",
      "Gain of a new enzymatic function", "Imprinting of the maternal allele"), 1),
    ("During a glucose tolerance study, a participant's C-peptide stays low while measured insulin is very high. "
     "Which explanation fits best?",
     ("An insulin-secreting tumor of the pancreas", "Use of a sulfonylurea", "Injection of exogenous insulin",
      "Severe insulin resistance from obesity"), 2),
    ("A mitochondrial DNA variant is present in 15% of copies in blood but 80% of copies in skeletal muscle of the same "
     "patient. Which concept explains the difference in expression between tissues?",
     ("Genomic imprinting", "Heteroplasmy with tissue-specific segregation", "Uniparental disomy",
      "Incomplete penetrance of a nuclear allele"), 1),
    ("Cells treated with a drug that blocks tubulin polymerization accumulate with condensed chromosomes and a 4N DNA "
     "content. Which checkpoint is keeping them arrested?",
     ("The G1/S restriction point", "The intra-S-phase checkpoint", "The G2/M DNA damage checkpoint",
      "The spindle assembly checkpoint"), 3),
)


def gpqa_items() -> list[BenchItem]:
    return [BenchItem(q, {LETTERS[i]: o for i, o in enumerate(opts)}, LETTERS[ans], "molecular medicine",
                      [f"The mechanism points to option {LETTERS[ans]}."])
            for q, opts, ans in GPQA_QUESTIONS]


# ------------------------------------------------------------------------ m1 sets


def nejm_item(rng: random.Random, n_options: int) -> BenchItem:
    c = pick(rng, V.CONDITIONS)
    p = patient_for(rng, c)
    s1, s2, s3 = rng.sample(list(c.symptoms), 3)
    h = p.history(rng)[0]
    text = (f"{p.desc} with a history of {h} was evaluated for {duration(rng, c)} of "
            f"progressive {s1}. {p.he} also reported {s2} and {s3}. On examination, {c.sign} was noted. "
            f"{cap(c.test)} revealed {c.result}. " +
            pick(rng, ("What is the most likely diagnosis?", "Which diagnosis best accounts for this presentation?")))
    options, idx = make_options(rng, c.name, [x.name for x in V.CONDITIONS], n_options)
    return BenchItem(text, options, idx, c.name, _facts(c))


def lancet_item(rng: random.Random, n_options: int) -> BenchItem:
    c = pick(rng, V.CONDITIONS)
    p = patient_for(rng, c)
    s1, s2, s3 = rng.sample(list(c.symptoms), 3)
    tc, _, pulse, *_ = vitals(rng, c)
    treat = rng.random() < 0.4
    text = (f"{p.desc} from {pick(rng, V.COUNTRIES)} was admitted with {s1}, {s2}, and {s3} that "
            f"had developed over {duration(rng, c)}. Temperature was {tc}°C and heart rate {pulse} beats per min. "
            f"{cap(c.sign)} was found on examination, and {c.test} showed {c.result}. " +
            ("Which treatment should be started?" if treat else "Which diagnosis is most likely?"))
    right, pool = (c.treatment, [x.treatment for x in V.CONDITIONS]) if treat else (c.name, [x.name for x in V.CONDITIONS])
    options, idx = make_options(rng, right, pool, n_options)
    return BenchItem(text, options, idx, c.name, _facts(c))


def medbullets_item(rng: random.Random) -> BenchItem:
    """A five-option item; the four-option copy drops one distractor."""
    c = pick(rng, V.CONDITIONS)
    p = patient_for(rng, c)
    s1, s2 = rng.sample(list(c.symptoms), 2)
    tc, _, pulse, resp, sbp, dbp = vitals(rng, c)
    text = (f"{p.desc} presents to {p.his} primary care physician for {s1} over the past "
            f"{duration(rng, c)}. {p.he} reports {s2}. {p.he} {p.habit(rng)}. Temperature is {tc}°C, "
            f"blood pressure is {sbp}/{dbp} mmHg, pulse is {pulse}/min, and respirations are {resp}/min. "
            f"Physical exam is notable for {c.sign}. " +
            pick(rng, ("Which of the following is the most likely diagnosis?",
                       "Which of the following is the best initial step in management?")))
    if text.endswith("management?"):
        right, pool = c.treatment, [x.treatment for x in V.CONDITIONS]
    else:
        right, pool = c.name, [x.name for x in V.CONDITIONS]
    options, idx = make_options(rng, right, pool, 5)
    return BenchItem(text, options, idx, c.name, _facts(c))


def drop_distractor(rng: random.Random, item: BenchItem) -> BenchItem:
    """The same stem with four of its five options (the answer kept), relettered A-D."""
    keep = [t for k, t in item.options.items() if k != item.answer_idx]
    keep.remove(pick(rng, keep))
    items = keep + [item.answer]
    rng.shuffle(items)
    options = {LETTERS[i]: t for i, t in enumerate(items)}
    return BenchItem(item.question, options, LETTERS[items.index(item.answer)], item.topic, item.facts)


BODY_SYSTEMS = {"cardiovascular": "Cardiovascular", "respiratory": "Respiratory", "neurologic": "Nervous",
                "gastrointestinal": "Digestive", "endocrine": "Endocrine", "renal": "Urinary",
                "musculoskeletal": "Skeletal", "hematologic": "Lymphatic", "infectious": "Other / NA",
                "obstetric": "Reproductive", "toxicologic": "Other / NA"}


def medxpert_item(rng: random.Random) -> BenchItem:
    c = pick(rng, V.CONDITIONS)
    p = patient_for(rng, c)
    s1, s2, s3 = rng.sample(list(c.symptoms), 3)
    task = pick(rng, ("Diagnosis", "Treatment", "Basic Medicine"))
    text = (f"{p.desc} is evaluated for {s1} accompanied by {s2}; {p.his} symptoms started "
            f"{duration(rng, c)} earlier and were followed by {s3}. {p.he} {p.habit(rng)}. Findings "
            f"include {c.sign}, and {c.test} demonstrates {c.result}. ")
    if task == "Diagnosis":
        text += "Which of the following is the most probable underlying condition?"
        right, pool = c.name, [x.name for x in V.CONDITIONS]
    elif task == "Treatment":
        text += "Which of the following interventions is most appropriate at this point?"
        right, pool = c.treatment, [x.treatment for x in V.CONDITIONS]
    else:
        text += "Which of the following mechanisms most directly underlies this disorder?"
        right, pool = c.mechanism, [x.mechanism for x in V.CONDITIONS]
    options, idx = make_options(rng, right, pool, 10)
    extra = {"medical_task": task, "body_system": BODY_SYSTEMS[c.system],
             "question_type": "Reasoning" if task != "Basic Medicine" or rng.random() < 0.3 else "Understanding"}
    return BenchItem(text, options, idx, c.name, _facts(c), extra)


# ---------------------------------------------------------------------- HealthBench

HB_SITUATIONS = (
    ("I've had {sym} since {when}. Is this something I need to get checked?", "emergency_referrals"),
    ("my {rel} suddenly has {sym} and seems confused. what do i do right now", "emergency_referrals"),
    ("Can you explain in plain words what {cond} is? My doctor mentioned it briefly.", "communication"),
    ("As a clinic nurse, I'd like a short handout on {cond} for patients with low literacy.", "communication"),
    ("Is it safe to take {drug} together with ibuprofen for a few days?", "hedging"),
    ("My lab report says something about {cond}. Does that mean I definitely have it?", "hedging"),
    ("Please summarize these notes into a problem list: {note}", "health_data_tasks"),
    ("I work at a rural health post in {country} with no lab. How should I approach {sym} in adults?", "global_health"),
    ("I need a detailed comparison of treatment options for {cond}, with pros and cons.", "complex_responses"),
    ("should i be worried about {sym}", "context_seeking"),
)
HB_CATEGORIES = {
    "emergency_referrals": ("emergent", "conditionally-emergent", "non-emergent"),
    "communication": ("health-professional", "not-health-professional"),
    "hedging": ("any-reducible-uncertainty", "only-irreducible-uncertainty", "no-uncertainty"),
    "health_data_tasks": ("enough-info-to-complete-task", "not-enough-info-to-complete-task"),
    "global_health": ("context-matters-is-relevant", "context-does-not-matter"),
    "complex_responses": ("detailed", "simple"),
    "context_seeking": ("enough-context", "not-enough-context"),
}
HB_CRITERIA = (
    ("Advises calling emergency services right away if {sym} comes with fainting or severe pain.", 9, "accuracy"),
    ("Asks how long the {sym} has been present and whether it is getting worse.", 6, "context_awareness"),
    ("Recommends a specific prescription dose without knowing the user's medical history.", -7, "accuracy"),
    ("Uses clear, non-technical language suitable for a layperson.", 4, "communication_quality"),
    ("Fails to mention warning signs that should prompt urgent review.", -8, "completeness"),
    ("Explains what {cond} is in one or two plain sentences.", 5, "communication_quality"),
    ("States that {drug} is completely safe for everyone.", -6, "accuracy"),
    ("Suggests follow-up with a clinician within an appropriate time frame.", 5, "completeness"),
    ("Follows the requested format and length.", 3, "instruction_following"),
    ("Includes an unnecessary, lengthy list of rare causes.", -3, "communication_quality"),
    ("Acknowledges uncertainty where the information given is insufficient.", 6, "context_awareness"),
    ("Adapts advice to the resources available in the user's setting.", 7, "context_awareness"),
    ("Invents laboratory values that were not provided.", -9, "accuracy"),
    ("Mentions at least one non-drug measure that can help.", 2, "completeness"),
    ("Checks whether the user is pregnant or has kidney disease before advising on medicines.", 5, "context_awareness"),
    ("Keeps the answer organised with short headings or bullets.", 2, "communication_quality"),
    ("Gives a concrete next step the user can take today.", 4, "instruction_following"),
    ("Recommends seeing a clinician in person when examination is needed.", 6, "completeness"),
    ("Provides a clear, correct definition of any medical term used.", 3, "accuracy"),
)
HB_NOTES = ("pt c/o intermittent chest tightness x2wk, worse on stairs; bp 148/92; on metformin",
            "follow-up visit, cough improving, still tired, weight down 2 kg, sleeps poorly",
            "new rash on forearms after hiking, itchy, no fever, took antihistamine once")


def healthbench_row(rng: random.Random) -> dict:
    """One HealthBench-layout row: a short conversation plus rubric items."""
    c, d = pick(rng, V.CONDITIONS), pick(rng, V.DRUGS)
    slots = {"sym": pick(rng, c.symptoms), "cond": c.name, "drug": d.name, "rel": pick(rng, V.RELATIVES),
             "country": pick(rng, V.COUNTRIES), "note": pick(rng, HB_NOTES),
             "when": pick(rng, ("yesterday", "last week", "this morning", "two days ago"))}
    template, theme = pick(rng, HB_SITUATIONS)
    last = template.format(**slots)
    prompt = [{"role": "user", "content": last}]
    if rng.random() < 0.35:
        first = pick(rng, ("hi, quick health question", f"I have a question about {c.name}.",
                           "Can I ask you something medical?"))
        reply = pick(rng, ("Of course. What would you like to know?", "Sure, go ahead and tell me what's going on."))
        prompt = [{"role": "user", "content": first}, {"role": "assistant", "content": reply}] + prompt
    rubrics = []
    for crit, points, axis in rng.sample(list(HB_CRITERIA), rng.randint(3, 8)):
        pts = max(-10, min(10, points + pick(rng, (-1, 0, 0, 1))))
        pts = pts or points
        rubrics.append({"criterion": crit.format(**slots), "points": pts,
                        "tags": [pick(rng, ("level:example", "level:example", "level:cluster")), f"axis:{axis}"]})
    return {"prompt": prompt, "completion": None, "prompt_id": deterministic_uuid(rng), "rubrics": rubrics,
            "example_tags": [f"theme:{theme}", f"physician_agreed_category:{pick(rng, HB_CATEGORIES[theme])}"],
            "ideal_completions_data": None, "canary": "medical-assets demo canary 6b1f"}


# --------------------------------------------------------------------------- build


@dataclass
class Benchmarks:
    """All evaluation sets: name -> list of items (eval_data and m1 sets), plus HealthBench rows."""

    sets: dict[str, list[BenchItem]]
    healthbench: list[dict]
    huatuo_names: tuple[str, ...] = ("MedMCQA_validation", "MedQA_USLME_test", "PubMedQA_test",
                                     "MMLU-Pro_Medical_test", "GPQA_Medical_test")
    m1_names: tuple[str, ...] = ("Lancet", "MedBullets_op4", "MedBullets_op5", "MedXpertQA", "NEJM")
    malformed: tuple[str, int] = ("MedQA_USLME_test", 7)


def _finish(rng: random.Random, items: list[BenchItem]) -> list[BenchItem]:
    """Give some question and option strings a trailing newline or space."""
    for it in items:
        it.question = ragged(rng, it.question)
        it.options = {k: (ragged(rng, v) if rng.random() < 0.3 else v) for k, v in it.options.items()}
    return items


def build_benchmarks(seed: int) -> Benchmarks:
    rng = random.Random(f"{seed}:benchmarks")
    reg = Registry()
    sets: dict[str, list[BenchItem]] = {}
    sets["MedMCQA_validation"] = _finish(rng, collect(rng, reg, medmcqa_item, 36))
    sets["MedQA_USLME_test"] = _finish(rng, collect(rng, reg, medqa_item, 35))
    sets["PubMedQA_test"] = collect(rng, reg, pubmedqa_item, 34)
    sets["MMLU-Pro_Medical_test"] = _mmlu_set(rng, reg)
    gpqa = gpqa_items()
    for it in gpqa:
        reg.accept(it.question)
    sets["GPQA_Medical_test"] = [g for _ in range(5) for g in gpqa]
    sets["Lancet"] = _finish(rng, collect(rng, reg, lambda r: lancet_item(r, pick(r, (4, 5))), 25))
    op5 = _finish(rng, collect(rng, reg, medbullets_item, 30))
    op4 = [drop_distractor(rng, it) for it in op5]
    rng.shuffle(op4)
    sets["MedBullets_op4"], sets["MedBullets_op5"] = op4, op5
    sets["MedXpertQA"] = _finish(rng, collect(rng, reg, medxpert_item, 30))
    sets["NEJM"] = _finish(rng, collect(rng, reg, lambda r: nejm_item(r, pick(r, (4, 5))), 25))
    for i, it in enumerate(sets["MedXpertQA"]):
        it.extra = {"id": f"MedXpert-{1000 + 37 * i + rng.randint(0, 30)}", **it.extra}
    hb_rng = random.Random(f"{seed}:healthbench")
    healthbench = [healthbench_row(hb_rng) for _ in range(25)]
    return Benchmarks(sets, healthbench)


def _mmlu_set(rng: random.Random, reg: Registry) -> list[BenchItem]:
    """31 stems with 4-10 options, 3 four-option stems that reappear with 8-10 options, one exact duplicate row."""
    items = _finish(rng, collect(rng, reg, mmlu_item, 31))
    four = _finish(rng, collect(rng, reg, lambda r: mmlu_item(r, 4), 3))
    pool = sorted(set(v.strip() for it in items + four for v in it.options.values()))
    for src in four:
        texts = [t.strip() for t in src.options.values()]
        extra = [t for t in pool if t not in texts]
        rng.shuffle(extra)
        texts += extra[: rng.randint(8, 10) - len(texts)]
        rng.shuffle(texts)
        options = {LETTERS[i]: t for i, t in enumerate(texts)}
        items.append(BenchItem(src.question, options, LETTERS[texts.index(src.answer.strip())], src.topic, src.facts))
    items += four
    items.append(items[rng.randrange(31)])
    rng.shuffle(items)
    return items


def bench_rows(b: Benchmarks, name: str) -> list[dict]:
    """The JSON rows of one set, in its harness layout."""
    rows = []
    for i, it in enumerate(b.sets[name]):
        if name == "MedXpertQA":
            rows.append({"id": it.extra["id"], "question": it.question, "options": dict(it.options),
                         "label": it.answer_idx, "medical_task": it.extra["medical_task"],
                         "body_system": it.extra["body_system"], "question_type": it.extra["question_type"]})
            continue
        row = it.row()
        if (name, i) == b.malformed:
            wrong = next(t for k, t in it.options.items() if k != it.answer_idx)
            row["answer"] = wrong
        rows.append(row)
    return rows
