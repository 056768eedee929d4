"""Vocabulary lists for the mock corpus (all text written for this project).

Facts are simplified textbook statements; they only need to be plausible.
Nothing here is copied from a benchmark or a dataset.
"""

from __future__ import annotations

from typing import NamedTuple


class Condition(NamedTuple):
    name: str
    system: str
    symptoms: tuple[str, ...]
    sign: str  # physical examination finding
    test: str  # confirmatory investigation
    result: str  # what that investigation shows
    treatment: str
    mechanism: str  # one-line pathophysiology
    ages: tuple[int, int]
    sex: str  # "any", "female", "male"
    fever: bool


CONDITIONS: tuple[Condition, ...] = (
    Condition("community-acquired pneumonia", "respiratory", ("fever", "productive cough", "pleuritic chest pain"),
              "crackles and dullness to percussion at the right base", "chest radiography",
              "a lobar consolidation", "amoxicillin", "bacterial infection of the alveoli with a neutrophil-rich exudate",
              (20, 85), "any", True),
    Condition("acute myocardial infarction", "cardiovascular", ("crushing substernal chest pain", "diaphoresis", "nausea"),
              "an S4 gallop", "serial troponin measurement", "rising troponin levels",
              "aspirin and emergent percutaneous coronary intervention",
              "rupture of a coronary plaque with occlusive thrombus", (45, 85), "any", False),
    Condition("pulmonary embolism", "respiratory", ("sudden dyspnea", "pleuritic chest pain", "palpitations"),
              "tachycardia with clear lung fields", "CT pulmonary angiography", "a filling defect in a segmental artery",
              "anticoagulation with low-molecular-weight heparin",
              "a venous thrombus that travels to and obstructs the pulmonary arteries", (25, 80), "any", False),
    Condition("diabetic ketoacidosis", "endocrine", ("polyuria", "abdominal pain", "vomiting"),
              "deep rapid breathing and a fruity breath odor", "serum beta-hydroxybutyrate and arterial blood gas",
              "an anion gap metabolic acidosis with ketonemia", "intravenous fluids and an insulin infusion",
              "absolute insulin deficiency driving lipolysis and ketone production", (12, 40), "any", False),
    Condition("primary hypothyroidism", "endocrine", ("fatigue", "cold intolerance", "weight gain"),
              "delayed relaxation of the ankle reflexes", "serum TSH and free T4", "a high TSH with a low free T4",
              "levothyroxine", "autoimmune destruction of thyroid tissue reducing hormone output", (30, 75), "female", False),
    Condition("Graves disease", "endocrine", ("heat intolerance", "palpitations", "weight loss"),
              "a diffuse goiter with a bruit and proptosis", "thyroid function tests with TSH receptor antibodies",
              "a suppressed TSH and elevated free T4", "methimazole",
              "stimulating antibodies against the TSH receptor", (20, 50), "female", False),
    Condition("iron deficiency anemia", "hematologic", ("fatigue", "exertional dyspnea", "pica"),
              "conjunctival pallor and spoon-shaped nails", "serum ferritin", "a low ferritin with microcytosis",
              "oral ferrous sulfate", "insufficient iron for heme synthesis, often from chronic blood loss",
              (18, 70), "female", False),
    Condition("vitamin B12 deficiency", "hematologic", ("numbness in the feet", "fatigue", "a sore tongue"),
              "reduced vibration sense in both legs", "serum cobalamin and methylmalonic acid",
              "low cobalamin with elevated methylmalonic acid", "intramuscular cyanocobalamin",
              "impaired DNA synthesis and myelin maintenance from lack of cobalamin", (40, 85), "any", False),
    Condition("acute appendicitis", "gastrointestinal", ("periumbilical pain that moves to the right lower quadrant", "anorexia", "low-grade fever"),
              "tenderness at McBurney point", "CT of the abdomen with contrast", "a dilated, inflamed appendix",
              "appendectomy", "obstruction of the appendiceal lumen followed by bacterial invasion", (8, 40), "any", True),
    Condition("acute pancreatitis", "gastrointestinal", ("severe epigastric pain radiating to the back", "nausea", "vomiting"),
              "epigastric tenderness with guarding", "serum lipase", "a lipase more than three times the upper limit",
              "aggressive intravenous fluids and analgesia",
              "premature activation of pancreatic enzymes causing autodigestion", (30, 70), "any", False),
    Condition("nephrolithiasis", "renal", ("colicky flank pain", "hematuria", "nausea"),
              "costovertebral angle tenderness", "noncontrast CT of the abdomen and pelvis", "an obstructing ureteral stone",
              "hydration, analgesia and tamsulosin", "supersaturation of urine leading to crystal aggregation",
              (25, 65), "male", False),
    Condition("migraine", "neurologic", ("unilateral throbbing headache", "photophobia", "nausea"),
              "a normal neurologic examination", "clinical diagnosis without imaging", "no structural abnormality",
              "sumatriptan", "trigeminovascular activation with release of vasoactive neuropeptides",
              (15, 50), "female", False),
    Condition("bacterial meningitis", "neurologic", ("fever", "severe headache", "neck stiffness"),
              "nuchal rigidity with a positive Kernig sign", "lumbar puncture",
              "neutrophilic pleocytosis with low glucose in the cerebrospinal fluid",
              "ceftriaxone plus vancomycin", "bacterial invasion of the subarachnoid space", (18, 60), "any", True),
    Condition("acute ischemic stroke", "neurologic", ("sudden weakness of one side", "slurred speech", "facial droop"),
              "right hemiparesis with expressive aphasia", "noncontrast CT of the head",
              "no hemorrhage on the initial scan", "intravenous alteplase within the treatment window",
              "arterial occlusion causing focal brain ischemia", (55, 90), "any", False),
    Condition("Parkinson disease", "neurologic", ("resting tremor", "slowness of movement", "stiffness"),
              "cogwheel rigidity and a shuffling gait", "clinical examination", "asymmetric parkinsonism",
              "carbidopa-levodopa", "loss of dopaminergic neurons in the substantia nigra", (55, 85), "male", False),
    Condition("myasthenia gravis", "neurologic", ("drooping eyelids", "double vision", "weakness that worsens through the day"),
              "fatigable ptosis on sustained upward gaze", "acetylcholine receptor antibody testing",
              "positive acetylcholine receptor antibodies", "pyridostigmine",
              "autoantibodies blocking postsynaptic acetylcholine receptors", (20, 70), "female", False),
    Condition("asthma exacerbation", "respiratory", ("wheezing", "chest tightness", "nighttime cough"),
              "diffuse expiratory wheezes with a prolonged expiratory phase", "spirometry with bronchodilator testing",
              "reversible airflow obstruction", "inhaled albuterol and systemic corticosteroids",
              "airway hyperresponsiveness with eosinophilic inflammation", (6, 40), "any", False),
    Condition("heart failure with reduced ejection fraction", "cardiovascular", ("exertional dyspnea", "orthopnea", "ankle swelling"),
              "jugular venous distension and bibasilar crackles", "transthoracic echocardiography",
              "an ejection fraction of 30 percent", "furosemide with an ACE inhibitor and a beta blocker",
              "impaired systolic contraction with neurohormonal activation", (50, 90), "any", False),
    Condition("atrial fibrillation", "cardiovascular", ("palpitations", "lightheadedness", "fatigue"),
              "an irregularly irregular pulse", "12-lead electrocardiography", "absent P waves with irregular RR intervals",
              "rate control with metoprolol and anticoagulation", "disorganized atrial electrical activity",
              (55, 90), "any", False),
    Condition("rheumatoid arthritis", "musculoskeletal", ("symmetric hand joint pain", "morning stiffness lasting over an hour", "fatigue"),
              "boggy swelling of the metacarpophalangeal joints", "anti-cyclic citrullinated peptide antibodies",
              "positive anti-CCP antibodies", "methotrexate", "autoimmune synovitis with pannus formation",
              (30, 65), "female", False),
    Condition("acute gout", "musculoskeletal", ("sudden pain in the big toe", "redness of the joint", "swelling"),
              "a warm, exquisitely tender first metatarsophalangeal joint", "joint aspiration with polarized microscopy",
              "needle-shaped negatively birefringent crystals", "colchicine or an NSAID",
              "monosodium urate crystal deposition triggering inflammation", (35, 75), "male", False),
    Condition("systemic lupus erythematosus", "musculoskeletal", ("joint pain", "a facial rash", "fatigue"),
              "a malar rash sparing the nasolabial folds", "antinuclear and anti-dsDNA antibodies",
              "a positive ANA with anti-dsDNA antibodies", "hydroxychloroquine",
              "immune complex deposition from loss of self-tolerance", (18, 45), "female", False),
    Condition("pulmonary tuberculosis", "infectious", ("chronic cough", "night sweats", "weight loss"),
              "apical crackles", "sputum acid-fast smear and nucleic acid amplification", "acid-fast bacilli in sputum",
              "rifampin, isoniazid, pyrazinamide and ethambutol", "granulomatous infection by Mycobacterium tuberculosis",
              (20, 70), "any", True),
    Condition("acute pyelonephritis", "renal", ("dysuria", "flank pain", "fever with chills"),
              "costovertebral angle tenderness", "urinalysis with urine culture", "pyuria with white cell casts",
              "ceftriaxone", "ascending bacterial infection of the renal parenchyma", (18, 60), "female", True),
    Condition("Cushing syndrome", "endocrine", ("weight gain around the trunk", "easy bruising", "muscle weakness"),
              "wide purple abdominal striae", "24-hour urinary free cortisol", "elevated urinary free cortisol",
              "treatment of the underlying source of cortisol excess", "chronic exposure to excess glucocorticoid",
              (25, 60), "female", False),
    Condition("primary adrenal insufficiency", "endocrine", ("fatigue", "salt craving", "dizziness on standing"),
              "hyperpigmentation of the palmar creases", "cosyntropin stimulation test", "a blunted cortisol response",
              "hydrocortisone and fludrocortisone", "autoimmune destruction of the adrenal cortex", (25, 60), "any", False),
    Condition("celiac disease", "gastrointestinal", ("chronic diarrhea", "bloating", "weight loss"),
              "an itchy vesicular rash on the elbows", "tissue transglutaminase IgA", "positive anti-tTG antibodies",
              "a strict gluten-free diet", "immune reaction to gliadin causing villous atrophy", (10, 50), "any", False),
    Condition("peptic ulcer disease", "gastrointestinal", ("burning epigastric pain", "bloating", "early satiety"),
              "mild epigastric tenderness", "urea breath test for Helicobacter pylori", "active Helicobacter pylori infection",
              "a proton pump inhibitor with clarithromycin and amoxicillin",
              "mucosal injury from Helicobacter pylori or NSAID use", (30, 70), "any", False),
    Condition("preeclampsia", "obstetric", ("headache", "blurred vision", "swelling of the face"),
              "bilateral leg edema and brisk reflexes at 34 weeks of gestation", "urine protein-to-creatinine ratio",
              "significant proteinuria", "magnesium sulfate and planned delivery",
              "abnormal placental vascular remodeling causing endothelial dysfunction", (18, 40), "female", False),
    Condition("infectious mononucleosis", "infectious", ("sore throat", "fever", "profound fatigue"),
              "posterior cervical lymphadenopathy and splenomegaly", "heterophile antibody test",
              "a positive heterophile antibody test with atypical lymphocytes", "supportive care and avoidance of contact sports",
              "Epstein-Barr virus infection of B lymphocytes", (14, 25), "any", True),
    Condition("Kawasaki disease", "cardiovascular", ("fever for more than five days", "red eyes", "red cracked lips"),
              "a strawberry tongue with swollen hands", "echocardiography", "coronary artery dilation",
              "intravenous immunoglobulin and aspirin", "medium-vessel vasculitis of unclear trigger", (1, 5), "any", True),
    Condition("sickle cell vaso-occlusive crisis", "hematologic", ("severe bone pain", "fatigue", "pain in the chest"),
              "scleral icterus", "peripheral blood smear", "sickled erythrocytes", "opioid analgesia and hydration",
              "polymerization of deoxygenated hemoglobin S", (5, 30), "any", False),
    Condition("lithium toxicity", "toxicologic", ("coarse tremor", "confusion", "diarrhea"),
              "hyperreflexia with ataxia", "serum lithium concentration", "a lithium level above 2.0 mEq/L",
              "hemodialysis in severe cases", "accumulation of lithium with reduced renal clearance", (25, 70), "any", False),
    Condition("hepatic encephalopathy", "gastrointestinal", ("confusion", "sleep reversal", "irritability"),
              "asterixis", "clinical assessment with ammonia levels", "an elevated ammonia level",
              "lactulose and rifaximin", "accumulation of gut-derived neurotoxins in liver failure", (40, 75), "male", False),
)


class Drug(NamedTuple):
    name: str
    drug_class: str
    mechanism: str
    adverse: str
    use: str


DRUGS: tuple[Drug, ...] = (
    Drug("metformin", "biguanide", "decreases hepatic gluconeogenesis", "lactic acidosis", "type 2 diabetes"),
    Drug("lisinopril", "ACE inhibitor", "blocks conversion of angiotensin I to angiotensin II", "a dry cough", "hypertension"),
    Drug("atorvastatin", "statin", "inhibits HMG-CoA reductase", "myopathy", "hypercholesterolemia"),
    Drug("warfarin", "vitamin K antagonist", "inhibits vitamin K epoxide reductase", "bleeding", "stroke prevention in atrial fibrillation"),
    Drug("heparin", "anticoagulant", "potentiates antithrombin", "thrombocytopenia", "venous thromboembolism"),
    Drug("amiodarone", "class III antiarrhythmic", "blocks potassium channels and prolongs repolarization", "pulmonary fibrosis", "ventricular arrhythmias"),
    Drug("digoxin", "cardiac glycoside", "inhibits the sodium-potassium ATPase", "yellow-tinted vision", "rate control in heart failure"),
    Drug("furosemide", "loop diuretic", "inhibits the Na-K-2Cl cotransporter", "ototoxicity", "volume overload"),
    Drug("spironolactone", "potassium-sparing diuretic", "antagonizes the aldosterone receptor", "gynecomastia", "resistant hypertension"),
    Drug("metoprolol", "beta-1 selective blocker", "reduces sympathetic stimulation of the heart", "bradycardia", "angina"),
    Drug("isoniazid", "antimycobacterial", "inhibits mycolic acid synthesis", "peripheral neuropathy", "tuberculosis"),
    Drug("rifampin", "rifamycin", "inhibits bacterial RNA polymerase", "orange discoloration of body fluids", "tuberculosis"),
    Drug("vancomycin", "glycopeptide", "binds D-Ala-D-Ala to block cell wall synthesis", "flushing during rapid infusion", "MRSA infection"),
    Drug("ciprofloxacin", "fluoroquinolone", "inhibits DNA gyrase", "tendon rupture", "complicated urinary infection"),
    Drug("doxycycline", "tetracycline", "binds the 30S ribosomal subunit", "photosensitivity", "Lyme disease"),
    Drug("azithromycin", "macrolide", "binds the 50S ribosomal subunit", "QT prolongation", "atypical pneumonia"),
    Drug("methotrexate", "antimetabolite", "inhibits dihydrofolate reductase", "myelosuppression", "rheumatoid arthritis"),
    Drug("cyclophosphamide", "alkylating agent", "cross-links DNA strands", "hemorrhagic cystitis", "lupus nephritis"),
    Drug("cisplatin", "platinum compound", "forms DNA cross-links", "nephrotoxicity", "testicular cancer"),
    Drug("lithium", "mood stabilizer", "inhibits inositol monophosphatase", "nephrogenic diabetes insipidus", "bipolar disorder"),
    Drug("haloperidol", "typical antipsychotic", "blocks dopamine D2 receptors", "acute dystonia", "acute psychosis"),
    Drug("fluoxetine", "SSRI", "inhibits serotonin reuptake", "sexual dysfunction", "major depression"),
    Drug("sumatriptan", "triptan", "stimulates 5-HT1B/1D receptors", "coronary vasospasm", "migraine"),
    Drug("omeprazole", "proton pump inhibitor", "irreversibly blocks the parietal cell H+/K+ ATPase", "hypomagnesemia", "peptic ulcer disease"),
    Drug("allopurinol", "xanthine oxidase inhibitor", "reduces uric acid production", "severe skin reactions", "chronic gout"),
    Drug("prednisone", "glucocorticoid", "suppresses inflammatory gene transcription", "hyperglycemia", "autoimmune flares"),
    Drug("phenytoin", "anticonvulsant", "blocks voltage-gated sodium channels", "gingival hyperplasia", "focal seizures"),
    Drug("valproate", "anticonvulsant", "increases GABA availability", "hepatotoxicity", "generalized epilepsy"),
    Drug("clopidogrel", "antiplatelet agent", "blocks the P2Y12 ADP receptor", "bleeding", "secondary prevention after stenting"),
    Drug("levothyroxine", "thyroid hormone", "replaces thyroxine", "atrial fibrillation when overdosed", "hypothyroidism"),
    Drug("albuterol", "short-acting beta-2 agonist", "relaxes bronchial smooth muscle", "tremor", "acute bronchospasm"),
    Drug("ondansetron", "antiemetic", "blocks 5-HT3 receptors", "QT prolongation", "chemotherapy-induced nausea"),
)


class Organism(NamedTuple):
    name: str
    kind: str
    disease: str
    treatment: str
    feature: str


ORGANISMS: tuple[Organism, ...] = (
    Organism("Staphylococcus aureus", "gram-positive coccus in clusters", "skin abscesses", "cefazolin", "coagulase production"),
    Organism("Streptococcus pneumoniae", "lancet-shaped gram-positive diplococcus", "lobar pneumonia", "ceftriaxone", "a polysaccharide capsule"),
    Organism("Neisseria meningitidis", "gram-negative diplococcus", "meningococcemia", "ceftriaxone", "endotoxin release"),
    Organism("Escherichia coli", "gram-negative rod", "cystitis", "nitrofurantoin", "fimbriae that bind uroepithelium"),
    Organism("Pseudomonas aeruginosa", "oxidase-positive gram-negative rod", "ventilator-associated pneumonia", "piperacillin-tazobactam", "a blue-green pigment"),
    Organism("Mycobacterium tuberculosis", "acid-fast bacillus", "cavitary lung disease", "four-drug therapy", "a waxy mycolic acid wall"),
    Organism("Clostridioides difficile", "spore-forming gram-positive rod", "pseudomembranous colitis", "oral vancomycin", "toxins A and B"),
    Organism("Helicobacter pylori", "curved gram-negative rod", "gastric ulcers", "clarithromycin-based triple therapy", "urease activity"),
    Organism("Treponema pallidum", "spirochete", "syphilis", "penicillin G", "a painless chancre"),
    Organism("Borrelia burgdorferi", "spirochete", "Lyme disease", "doxycycline", "transmission by Ixodes ticks"),
    Organism("Plasmodium falciparum", "protozoan", "severe malaria", "artesunate", "banana-shaped gametocytes"),
    Organism("Candida albicans", "dimorphic yeast", "oral thrush", "fluconazole", "germ tube formation"),
    Organism("Giardia lamblia", "flagellated protozoan", "foul-smelling fatty diarrhea", "metronidazole", "cysts in untreated water"),
    Organism("Listeria monocytogenes", "gram-positive rod with tumbling motility", "neonatal meningitis", "ampicillin", "growth at refrigerator temperatures"),
    Organism("Legionella pneumophila", "gram-negative rod", "atypical pneumonia with hyponatremia", "azithromycin", "spread through water systems"),
    Organism("Haemophilus influenzae", "gram-negative coccobacillus", "epiglottitis", "ceftriaxone", "a type b capsule"),
    Organism("Klebsiella pneumoniae", "encapsulated gram-negative rod", "aspiration pneumonia", "a third-generation cephalosporin", "currant-jelly sputum"),
    Organism("Chlamydia trachomatis", "obligate intracellular bacterium", "urethritis", "azithromycin", "elementary bodies"),
    Organism("Epstein-Barr virus", "herpesvirus", "infectious mononucleosis", "supportive care", "infection of B cells via CD21"),
    Organism("influenza A virus", "orthomyxovirus", "seasonal influenza", "oseltamivir", "antigenic shift"),
)

# --- patient descriptors -------------------------------------------------

SEX_WORDS = {"male": ("man", "boy", "he", "his"), "female": ("woman", "girl", "she", "her")}
SETTINGS = ("emergency department", "clinic", "urgent care center", "primary care office", "hospital")
DURATIONS = {
    "hours": ("2 hours", "4 hours", "6 hours", "12 hours"),
    "days": ("1 day", "2 days", "3 days", "5 days"),
    "weeks": ("1 week", "2 weeks", "3 weeks", "1 month"),
    "months": ("2 months", "4 months", "6 months", "1 year"),
}
COURSE = {  # how fast each condition usually evolves (default: "days")
    "acute myocardial infarction": "hours", "pulmonary embolism": "hours", "acute ischemic stroke": "hours",
    "migraine": "hours", "nephrolithiasis": "hours", "primary hypothyroidism": "months", "Graves disease": "months",
    "iron deficiency anemia": "months", "vitamin B12 deficiency": "months", "Parkinson disease": "months",
    "myasthenia gravis": "weeks", "heart failure with reduced ejection fraction": "weeks",
    "rheumatoid arthritis": "months", "systemic lupus erythematosus": "months", "pulmonary tuberculosis": "months",
    "Cushing syndrome": "months", "primary adrenal insufficiency": "months", "celiac disease": "months",
    "peptic ulcer disease": "weeks", "infectious mononucleosis": "weeks", "hepatic encephalopathy": "days",
}


def course_of(condition_name: str) -> str:
    return COURSE.get(condition_name, "days")


HISTORY_ITEMS = ("hypertension", "type 2 diabetes mellitus", "hyperlipidemia", "asthma", "chronic kidney disease",
                 "osteoarthritis", "depression", "hypothyroidism", "gastroesophageal reflux disease", "obesity",
                 "a prior appendectomy", "migraine", "atrial fibrillation", "coronary artery disease")
HABITS = ("smokes one pack of cigarettes daily", "drinks two glasses of wine nightly", "does not smoke or drink alcohol",
          "quit smoking 10 years ago", "uses no illicit drugs", "works as a teacher", "works in construction",
          "recently returned from a hiking trip", "lives alone", "works as a nurse", "is a college student")
RELATIVES = ("mom", "dad", "grandmother", "grandfather", "sister", "brother", "husband", "wife", "aunt", "best friend")
CHILD_HISTORY = ("asthma", "eczema", "seasonal allergies", "recurrent ear infections", "attention-deficit disorder")
CHILD_HABITS = ("attends middle school", "plays on a soccer team", "lives with both parents", "is in the fifth grade",
                "goes to daycare", "is up to date on vaccinations")
COUNTRIES = ("rural Kenya", "coastal Peru", "northern India", "Vietnam", "Ghana", "Bangladesh", "Brazil", "Nepal")

# --- biology ---------------------------------------------------------------

ORGANELLES = (
    ("mitochondria", "cellular respiration", "produce most of the cell's ATP through oxidative phosphorylation"),
    ("ribosomes", "protein synthesis", "translate messenger RNA into polypeptide chains"),
    ("the rough endoplasmic reticulum", "protein secretion", "fold and modify proteins destined for membranes or export"),
    ("the Golgi apparatus", "protein trafficking", "sort, glycosylate and package proteins into vesicles"),
    ("lysosomes", "intracellular digestion", "break down macromolecules with acid hydrolases"),
    ("chloroplasts", "photosynthesis", "capture light energy to fix carbon dioxide into sugars"),
    ("the nucleus", "gene regulation", "store DNA and control transcription"),
    ("peroxisomes", "lipid metabolism", "oxidize very-long-chain fatty acids and break down hydrogen peroxide"),
    ("the smooth endoplasmic reticulum", "lipid synthesis", "make lipids and detoxify drugs"),
    ("centrosomes", "cell division", "organize the microtubules of the spindle"),
)
BIO_PROCESSES = (
    ("glycolysis", "splits glucose into two pyruvate molecules in the cytosol, netting 2 ATP and 2 NADH"),
    ("the citric acid cycle", "oxidizes acetyl-CoA in the mitochondrial matrix, producing NADH, FADH2 and CO2"),
    ("oxidative phosphorylation", "uses the proton gradient across the inner membrane to drive ATP synthase"),
    ("DNA replication", "copies each strand semi-conservatively using DNA polymerase and primers"),
    ("transcription", "uses RNA polymerase to build an RNA copy of a gene from the template strand"),
    ("translation", "reads codons on mRNA with tRNAs at the ribosome to assemble amino acids"),
    ("the Calvin cycle", "fixes CO2 with RuBisCO and uses ATP and NADPH to make G3P"),
    ("apoptosis", "dismantles a cell through caspase activation without triggering inflammation"),
    ("meiosis", "produces four haploid cells with recombined chromosomes"),
    ("mitosis", "divides replicated chromosomes equally into two identical nuclei"),
    ("the action potential", "depolarizes the membrane through voltage-gated sodium channels and repolarizes through potassium channels"),
    ("muscle contraction", "relies on calcium exposing actin binding sites so myosin heads can cycle"),
)
MITOSIS_PHASES = (
    ("prophase", "chromatin condenses into visible chromosomes and the spindle begins to form"),
    ("metaphase", "chromosomes line up along the cell's equator attached to spindle fibers"),
    ("anaphase", "sister chromatids separate and move toward opposite poles"),
    ("telophase", "nuclear envelopes re-form around the two sets of chromosomes"),
)
HORMONES = (
    ("insulin", "blood glucose", "promotes glucose uptake into muscle and fat and glycogen storage in the liver"),
    ("glucagon", "blood glucose", "stimulates glycogen breakdown and gluconeogenesis in the liver"),
    ("antidiuretic hormone", "water balance", "inserts aquaporins into collecting duct cells so more water is reabsorbed"),
    ("aldosterone", "sodium balance", "increases sodium reabsorption and potassium secretion in the distal nephron"),
    ("parathyroid hormone", "blood calcium", "raises calcium by acting on bone, kidney and indirectly the gut"),
    ("thyroxine", "metabolic rate", "increases basal metabolic rate and heat production"),
    ("cortisol", "the stress response", "raises glucose and suppresses inflammation"),
    ("auxin", "plant growth", "promotes cell elongation on the shaded side of a stem"),
)
BIO_PAIRS = (
    ("mitosis", "meiosis"), ("DNA", "RNA"), ("prokaryotic cells", "eukaryotic cells"), ("innate immunity", "adaptive immunity"),
    ("active transport", "passive diffusion"), ("C3 plants", "C4 plants"), ("T cells", "B cells"),
    ("aerobic respiration", "fermentation"), ("genotype", "phenotype"), ("homologous structures", "analogous structures"),
)
IMMUNE_CELLS = (
    ("neutrophils", "engulfing bacteria early in acute inflammation"),
    ("macrophages", "phagocytosis and antigen presentation"),
    ("helper T cells", "coordinating the adaptive response through cytokines"),
    ("cytotoxic T cells", "killing virus-infected cells"),
    ("B cells", "producing antibodies after activation"),
    ("natural killer cells", "destroying cells that lack MHC class I"),
    ("dendritic cells", "carrying antigens to lymph nodes"),
    ("eosinophils", "defending against parasites"),
)
TRAITS = ("seed color", "flower color", "pod shape", "stem height", "seed texture")

# --- chemistry ---------------------------------------------------------------

ATOMIC_MASS = {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999, "Na": 22.990, "Cl": 35.45, "S": 32.06,
               "K": 39.098, "Ca": 40.078, "Mg": 24.305, "P": 30.974}
COMPOUNDS = (
    ("water", {"H": 2, "O": 1}, "H2O"), ("glucose", {"C": 6, "H": 12, "O": 6}, "C6H12O6"),
    ("sodium chloride", {"Na": 1, "Cl": 1}, "NaCl"), ("carbon dioxide", {"C": 1, "O": 2}, "CO2"),
    ("ethanol", {"C": 2, "H": 6, "O": 1}, "C2H5OH"), ("sulfuric acid", {"H": 2, "S": 1, "O": 4}, "H2SO4"),
    ("calcium carbonate", {"Ca": 1, "C": 1, "O": 3}, "CaCO3"), ("ammonia", {"N": 1, "H": 3}, "NH3"),
    ("acetic acid", {"C": 2, "H": 4, "O": 2}, "CH3COOH"), ("potassium chloride", {"K": 1, "Cl": 1}, "KCl"),
    ("magnesium oxide", {"Mg": 1, "O": 1}, "MgO"), ("urea", {"C": 1, "H": 4, "N": 2, "O": 1}, "CO(NH2)2"),
    ("phosphoric acid", {"H": 3, "P": 1, "O": 4}, "H3PO4"), ("methane", {"C": 1, "H": 4}, "CH4"),
)
STRONG_ACIDS = ("hydrochloric acid", "nitric acid", "hydrobromic acid", "perchloric acid")
HYBRIDIZATION = (
    ("methane", "carbon", "sp3", "four sigma bonds and no lone pairs"),
    ("ethylene", "carbon", "sp2", "three sigma bonds and one pi bond"),
    ("acetylene", "carbon", "sp", "two sigma bonds and two pi bonds"),
    ("ammonia", "nitrogen", "sp3", "three bonds and one lone pair"),
    ("water", "oxygen", "sp3", "two bonds and two lone pairs"),
    ("boron trifluoride", "boron", "sp2", "three bonds and no lone pairs"),
    ("carbon dioxide", "carbon", "sp", "two double bonds"),
    ("sulfur hexafluoride", "sulfur", "sp3d2", "six bonding pairs"),
)
CHEM_PHENOMENA = (
    ("ice floats on liquid water", "hydrogen bonding locks water into an open hexagonal lattice that is less dense than the liquid"),
    ("salt lowers the freezing point of water", "dissolved particles lower the solvent's chemical potential, a colligative effect"),
    ("noble gases are unreactive", "their valence shells are already full"),
    ("fluorine is more electronegative than chlorine", "its valence electrons are closer to the nucleus with less shielding"),
    ("catalysts speed up reactions", "they offer a pathway with a lower activation energy"),
    ("benzene is unusually stable", "its six pi electrons are delocalized around the ring, giving aromatic stabilization"),
    ("tertiary carbocations are more stable than primary ones", "alkyl groups donate electron density by hyperconjugation"),
    ("raising temperature speeds most reactions", "more molecules exceed the activation energy, as the Arrhenius equation describes"),
)
EQUATIONS = (
    ("H2 + O2 -> H2O", "2H2 + O2 -> 2H2O"),
    ("CH4 + O2 -> CO2 + H2O", "CH4 + 2O2 -> CO2 + 2H2O"),
    ("Fe + O2 -> Fe2O3", "4Fe + 3O2 -> 2Fe2O3"),
    ("C3H8 + O2 -> CO2 + H2O", "C3H8 + 5O2 -> 3CO2 + 4H2O"),
    ("Al + HCl -> AlCl3 + H2", "2Al + 6HCl -> 2AlCl3 + 3H2"),
    ("N2 + H2 -> NH3", "N2 + 3H2 -> 2NH3"),
    ("KClO3 -> KCl + O2", "2KClO3 -> 2KCl + 3O2"),
    ("Na + Cl2 -> NaCl", "2Na + Cl2 -> 2NaCl"),
)

# --- physics -------------------------------------------------------------------

PHYS_PHENOMENA = (
    ("the sky looks blue", "shorter wavelengths scatter more strongly off air molecules (Rayleigh scattering)"),
    ("astronauts feel weightless in orbit", "they and their spacecraft are in continuous free fall around Earth"),
    ("a spoon looks bent in a glass of water", "light refracts as it passes between water and air"),
    ("a spinning skater speeds up when pulling in the arms", "angular momentum is conserved while the moment of inertia drops"),
    ("metal feels colder than wood at the same temperature", "metal conducts heat away from the skin much faster"),
    ("a siren changes pitch as it passes", "the Doppler effect shifts the observed frequency"),
    ("transformers only work with alternating current", "a changing magnetic flux is needed to induce voltage"),
    ("satellites in higher orbits move more slowly", "gravitational pull weakens with distance, so less speed is needed for a circular orbit"),
)

# --- code ------------------------------------------------------------------------

CODE_TASKS = (
    ("reverses a string", "def reverse_string(s: str) -> str:\n    return s[::-1]"),
    ("checks whether a number is prime",
     "def is_prime(n: int) -> bool:\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n"
     "        if n % i == 0:\n            return False\n        i += 1\n    return True"),
    ("returns the n-th Fibonacci number",
     "def fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a"),
    ("counts the vowels in a string",
     "def count_vowels(text: str) -> int:\n    return sum(1 for ch in text.lower() if ch in 'aeiou')"),
    ("removes duplicates from a list while keeping order",
     "def dedupe(items: list) -> list:\n    seen = set()\n    out = []\n    for item in items:\n"
     "        if item not in seen:\n            seen.add(item)\n            out.append(item)\n    return out"),
    ("merges two sorted lists into one sorted list",
     "def merge(a: list, b: list) -> list:\n    i = j = 0\n    out = []\n    while i < len(a) and j < len(b):\n"
     "        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n            out.append(b[j]); j += 1\n"
     "    return out + a[i:] + b[j:]"),
    ("computes the factorial of n iteratively",
     "def factorial(n: int) -> int:\n    result = 1\n    for k in range(2, n + 1):\n        result *= k\n    return result"),
    ("checks whether a string is a palindrome, ignoring case",
     "def is_palindrome(s: str) -> bool:\n    t = s.lower()\n    return t == t[::-1]"),
    ("finds the most frequent element of a list",
     "from collections import Counter\n\ndef most_common(items: list):\n    return Counter(items).most_common(1)[0][0]"),
    ("performs binary search on a sorted list",
     "def binary_search(xs: list, target) -> int:\n    lo, hi = 0, len(xs) - 1\n    while lo <= hi:\n"
     "        mid = (lo + hi) // 2\n        if xs[mid] == target:\n            return mid\n"
     "        if xs[mid] < target:\n            lo = mid + 1\n        else:\n            hi = mid - 1\n    return -1"),
)
ALGORITHMS = (
    ("binary search", "O(log n)", "each comparison halves the remaining range"),
    ("merge sort", "O(n log n)", "the list is split log n times and each level merges n elements"),
    ("bubble sort", "O(n^2)", "it may compare every pair of neighbors on each of n passes"),
    ("breadth-first search", "O(V + E)", "every vertex and edge is visited once"),
    ("inserting into a hash table", "O(1) on average", "hashing jumps straight to a bucket"),
    ("Dijkstra's algorithm with a binary heap", "O((V + E) log V)", "each edge relaxation may push onto the heap"),
    ("quicksort", "O(n log n) on average", "balanced partitions give log n levels of linear work"),
)

# --- general -----------------------------------------------------------------------

GENERAL_ACTIVITIES = ("learning a new language", "running a first half marathon", "keeping houseplants alive",
                      "saving money on groceries", "staying focused while working from home", "planning a road trip",
                      "starting a vegetable garden", "writing a cover letter", "improving sleep habits",
                      "public speaking", "organizing a small kitchen", "learning to cook on a budget")
GENERAL_TOPICS = ("autumn leaves", "a quiet library", "the ocean at night", "an old bicycle", "city rain",
                  "a mountain sunrise", "a cup of tea", "the first snow")
GENERAL_PAIRS = (("weather", "climate"), ("a virus", "a bacterium"), ("stocks", "bonds"), ("speed", "velocity"),
                 ("a simile", "a metaphor"), ("affect", "effect"), ("RAM", "storage"), ("renting", "buying a home"))
GENERAL_EVENTS = ("a job interview", "a long flight", "a camping weekend", "moving to a new city", "a marathon",
                  "a first day at a new school", "a family reunion")

# --- short prompts (1-3 words) with their domain --------------------------------------

SHORT_PROMPTS = (  # (prompt, domain, final answer or "")
    ("Hi", "general", ""), ("Hello", "general", ""), ("Thanks!", "general", ""), ("Help me", "general", ""),
    ("Explain apoptosis", "biology", ""), ("Krebs cycle?", "biology", ""), ("Photosynthesis", "biology", ""),
    ("What is DNA?", "biology", ""), ("Define sepsis", "medical", ""), ("Metformin dose?", "medical", ""),
    ("Anemia causes?", "medical", ""), ("Hypertension", "medical", ""), ("Migraine treatment", "medical", ""),
    ("pH meaning?", "chemistry", ""), ("Avogadro's number?", "chemistry", "6.022 x 10^23"),
    ("Ohm's law", "physics", ""), ("Newton's laws", "physics", ""), ("Define entropy", "physics", ""),
    ("Python decorators?", "code", ""), ("Explain recursion", "code", ""),
    ("Integrate x^2", "math", "x^3/3 + C"), ("Solve 2x=6", "math", "3"), ("Derivative of sin(x)?", "math", "cos(x)"),
    ("Primes below 20", "math", "2, 3, 5, 7, 11, 13, 17, 19"),
)

# --- Chinese medical templates (written for the zh mock) --------------------------

ZH_CONDITIONS = (
    ("社区获得性肺炎", ("发热", "咳嗽", "咳黄痰"), "右下肺可闻及湿啰音", "胸部X线", "阿莫西林"),
    ("急性心肌梗死", ("胸骨后压榨性疼痛", "大汗", "恶心"), "心率增快", "心电图和肌钙蛋白", "阿司匹林并尽快行冠脉介入治疗"),
    ("糖尿病酮症酸中毒", ("多尿", "口渴", "腹痛"), "呼吸深快，呼气有烂苹果味", "血酮和血气分析", "补液并静脉输注胰岛素"),
    ("急性阑尾炎", ("转移性右下腹痛", "恶心", "低热"), "麦氏点压痛、反跳痛", "腹部超声或CT", "阑尾切除术"),
    ("缺铁性贫血", ("乏力", "头晕", "面色苍白"), "睑结膜苍白", "血清铁蛋白", "口服铁剂"),
    ("甲状腺功能亢进症", ("怕热", "多汗", "心悸", "体重下降"), "甲状腺弥漫性肿大", "甲状腺功能检查", "甲巯咪唑"),
    ("急性胰腺炎", ("上腹部剧痛向背部放射", "呕吐"), "上腹部压痛", "血淀粉酶和脂肪酶", "禁食、补液和镇痛"),
    ("肺结核", ("长期咳嗽", "午后低热", "盗汗"), "肺尖部可闻及湿啰音", "痰抗酸杆菌检查", "异烟肼、利福平等联合抗结核治疗"),
    ("支气管哮喘", ("反复喘息", "胸闷", "夜间咳嗽"), "双肺可闻及哮鸣音", "肺功能检查", "吸入糖皮质激素和支气管扩张剂"),
    ("急性肾盂肾炎", ("尿频", "尿痛", "腰痛", "发热"), "肾区叩击痛", "尿常规和尿培养", "静脉使用抗生素"),
    ("痛风", ("第一跖趾关节红肿热痛",), "关节明显压痛", "关节液偏振光显微镜检查", "秋水仙碱或非甾体抗炎药"),
    ("偏头痛", ("单侧搏动性头痛", "畏光", "恶心"), "神经系统检查无异常", "临床诊断", "曲普坦类药物"),
)
ZH_DURATIONS = ("2小时", "半天", "1天", "3天", "1周", "2周", "1个月")
