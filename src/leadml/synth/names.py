"""Vocabulary of the synthetic funnel: people, companies, titles, domains, sources, sequences.

Plain lists only; the generator draws indices into them with numpy and turns them into strings
with polars, so no Python code runs per lead. Everything is ASCII so that emails need no folding.
"""

from __future__ import annotations

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Steven", "Emily",
    "Andrew", "Michelle", "Lukas", "Anna", "Felix", "Sophie", "Jonas", "Lena", "Pierre", "Camille",
    "Luca", "Giulia", "Mateo", "Lucia", "Hugo", "Ines", "Liam", "Olivia", "Noah", "Emma",
    "Arjun", "Priya", "Rahul", "Ananya", "Wei", "Mei", "Hiroshi", "Yuki", "Kwame", "Amara",
    "Omar", "Fatima", "Mohammed", "Aisha", "Sven", "Ingrid", "Pedro", "Beatriz", "Jan", "Eva",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright",
    "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Dubois", "Laurent",
    "Bernard", "Moreau", "Rossi", "Russo", "Ferrari", "Esposito", "Silva", "Santos", "Oliveira", "Costa",
    "Patel", "Sharma", "Singh", "Kumar", "Gupta", "Wang", "Li", "Zhang", "Chen", "Liu",
    "Tanaka", "Suzuki", "Sato", "Kim", "Park", "Nguyen", "Okafor", "Mensah", "Haddad", "Khan",
    "Jansen", "De Vries", "Van Dijk", "Johansson", "Nilsson", "Novak", "Kowalski", "O'Brien", "Murphy", "Kelly",
]

# Company names are "<first> <second> <legal form>", e.g. "Blue Harbor Systems GmbH".
COMPANY_FIRST = [
    "Blue", "Bright", "North", "Summit", "Apex", "Silver", "Green", "Red", "Iron", "Clear",
    "Quantum", "Nova", "Atlas", "Pioneer", "Vertex", "Evergreen", "Harbor", "Granite", "Crystal", "Falcon",
    "Orion", "Cedar", "Pacific", "Alpine", "Sterling", "Golden", "Rapid", "Prime", "Urban", "Polar",
]
COMPANY_SECOND = [
    "Systems", "Analytics", "Logistics", "Dynamics", "Solutions", "Labs", "Networks", "Health", "Capital", "Foods",
    "Robotics", "Media", "Energy", "Software", "Works", "Partners", "Retail", "Motors", "Pharma", "Cloud",
    "Data", "Consulting", "Industries", "Ventures", "Bank", "Insurance", "Studios", "Materials", "Security", "Digital",
]
# Legal forms by company size: the words the size heuristic of the feature code reads.
LEGAL_FORMS_BY_SIZE = {
    "enterprise": ["Inc.", "Corp.", "Corporation", "Holdings", "Group", "AG", "PLC", "SE"],
    "mid_market": ["Inc.", "Corp.", "GmbH", "Ltd", "LLC", "Group", "AG", "B.V."],
    "smb": ["GmbH", "Ltd", "LLC", "Inc.", "Pty Ltd", "S.A.R.L.", "B.V.", "Co."],
    "startup": ["LLC", "Ltd", "UG", "Inc.", "GmbH", "Labs"],
}
SIZE_NAMES = ["enterprise", "mid_market", "smb", "startup"]
# Employee ranges per size band (inclusive low, exclusive high), drawn log-uniformly.
EMPLOYEE_RANGES = {"enterprise": (1_000, 150_000), "mid_market": (200, 1_000), "smb": (10, 200), "startup": (1, 10)}

CITIES = [
    "Springfield", "Riverside", "Oakland", "Cambridge", "Bristol", "Hamburg", "Munich", "Lyon", "Toronto",
    "Melbourne", "Utrecht", "Pune", "Curitiba", "Valencia", "Denver", "Austin", "Leeds", "Cologne",
]
GOV_DEPARTMENTS = ["Transportation", "Health", "Revenue", "Education", "Housing", "Energy", "Labor", "Commerce"]

# Email domains. Free ones are all in the webmail list the feature code knows (with country variants).
FREE_DOMAINS = [
    "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com", "protonmail.com",
    "mail.com", "gmx.de", "gmx.net", "yahoo.co.uk", "hotmail.fr", "yahoo.com.br", "live.com", "zoho.com",
    "yandex.ru", "hotmail.co.uk", "outlook.de",
]
FREE_DOMAIN_WEIGHTS = [30, 10, 8, 10, 2, 5, 2, 1, 3, 1, 3, 2, 2, 3, 1, 1, 2, 2]

# Titles by seniority band, in the order of SENIORITY_NAMES. Several spellings per band on purpose.
SENIORITY_NAMES = ["c_level", "vp", "director", "manager", "individual", "unknown"]
TITLES_BY_SENIORITY = {
    "c_level": [
        "Chief Executive Officer", "CEO", "Founder", "Co-Founder", "CTO", "Chief Technology Officer", "CFO",
        "Chief Financial Officer", "COO", "Chief Marketing Officer", "CMO", "President", "Chief Revenue Officer",
        "CIO", "Founder & CEO",
    ],
    "vp": [
        "Vice President of Sales", "VP Marketing", "VP of Engineering", "SVP Marketing", "EVP Operations",
        "Senior Vice President, Sales", "VP Finance", "Vice President, Customer Success", "VP Product",
    ],
    "director": [
        "Director of IT", "Head of Growth", "Marketing Director", "Head of Sales", "Director of Operations",
        "Sales Director", "Head of Procurement", "Director, Business Development", "Head of Data",
    ],
    "manager": [
        "Marketing Manager", "Team Lead", "Sales Manager", "IT Manager", "Product Manager", "Supervisor",
        "Account Manager", "Operations Manager", "Engineering Team Lead",
    ],
    "individual": [
        "Analyst", "Software Engineer", "Marketing Specialist", "Consultant", "Sales Representative",
        "Data Scientist", "Coordinator", "Accountant", "Designer", "Business Analyst", "Intern",
    ],
}
STUDENT_TITLES = ["Student", "Graduate Student", "Research Assistant", "PhD Candidate"]

INDUSTRIES = [
    "Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Professional Services",
    "Media", "Logistics", "Education", "Government",
]
INDUSTRY_WEIGHTS = [22, 14, 12, 14, 10, 12, 8, 8, 0, 0]  # education / government come from the domain

# Countries with their calling code and corporate top-level domain.
COUNTRIES = ["US", "GB", "DE", "FR", "CA", "AU", "NL", "IN", "BR", "ES"]
COUNTRY_WEIGHTS = [40, 12, 12, 6, 6, 5, 4, 8, 4, 3]
COUNTRY_CALLING_CODES = ["+1", "+44", "+49", "+33", "+1", "+61", "+31", "+91", "+55", "+34"]
COUNTRY_TLDS = [".com", ".co.uk", ".de", ".fr", ".ca", ".com.au", ".nl", ".in", ".com.br", ".es"]
COUNTRY_EDU_SUFFIX = [".edu", ".ac.uk", ".edu", ".edu", ".edu", ".edu.au", ".edu", ".ac.in", ".edu.br", ".edu"]
COUNTRY_GOV_SUFFIX = [".gov", ".gov.uk", ".gov", ".gov", ".gc.ca", ".gov.au", ".gov", ".gov.in", ".gov.br", ".gov"]

# Where the lead came from (a custom attribute), with the UTM source / medium / campaign its web
# visits carry. "Inbound" sources create the lead through a web form.
LEAD_SOURCES = [
    "organic_search", "paid_search", "referral", "webinar", "event", "content_download", "outbound",
    "partner", "social",
]
LEAD_SOURCE_WEIGHTS = [20, 18, 8, 10, 7, 14, 12, 5, 6]
INBOUND_LEAD_SOURCES = {"organic_search", "paid_search", "webinar", "content_download", "social"}
LEAD_SOURCE_UTM = {
    "organic_search": ("google", "organic", None),
    "paid_search": ("google", "cpc", "spring-promo"),
    "referral": ("customer-referral", "referral", None),
    "webinar": ("webinar", "webinar", "webinar-series"),
    "event": ("trade-show", "offline", "saas-expo"),
    "content_download": ("blog", "content", "buyers-guide"),
    "outbound": ("direct", "none", None),
    "partner": ("partner-portal", "referral", "partner-program"),
    "social": ("linkedin", "social", "thought-leadership"),
}

# Nurture sequences: (name, total steps, days between steps).
SEQUENCES = [
    ("Trial Nurture", 6, 3),
    ("Enterprise Outreach", 8, 5),
    ("Webinar Follow-up", 4, 2),
    ("Onboarding Drip", 10, 4),
    ("Re-engagement", 3, 7),
    ("Content Nurture", 7, 4),
]

PIPELINE_STAGES_OPEN = ["new", "contacted", "engaged", "qualified"]
PIPELINE_STAGE_WON = "closed_won"
PIPELINE_STAGE_LOST = "closed_lost"


def slug(word: str) -> str:
    """Lower-case letters and digits only: how a word appears in a domain name."""
    return "".join(ch for ch in word.lower() if ch.isalnum())
