"""A vocabulary of skills with aliases, and extraction of canonical skill names from free text.

Shared by the screener (coverage, missing skills), the CV writer (relevance) and the checks
(keyword coverage), so that every layer agrees on what "Kubernetes" or "PostgreSQL" is.
"""

from __future__ import annotations

import re
from functools import cache

# canonical name -> aliases (lower case). The canonical name is what users see.
SKILL_ALIASES: dict[str, tuple[str, ...]] = {
    # languages
    "Python": ("python", "python3"),
    "Java": ("java",),
    "Kotlin": ("kotlin",),
    "Scala": ("scala",),
    "Go": ("golang", "go lang"),
    "Rust": ("rust",),
    "C++": ("c++", "cpp"),
    "C#": ("c#", "csharp"),
    "JavaScript": ("javascript", "js", "ecmascript"),
    "TypeScript": ("typescript", "ts"),
    "Ruby": ("ruby",),
    "PHP": ("php",),
    "Swift": ("swift",),
    "R": ("r language",),
    "SQL": ("sql",),
    "Bash": ("bash", "shell scripting", "shell"),
    # web and backend
    "Node.js": ("node.js", "nodejs", "node"),
    "React": ("react", "react.js", "reactjs"),
    "Vue": ("vue", "vue.js", "vuejs"),
    "Angular": ("angular",),
    "HTML": ("html", "html5"),
    "CSS": ("css", "css3"),
    "Django": ("django",),
    "FastAPI": ("fastapi",),
    "Flask": ("flask",),
    "Spring": ("spring", "spring boot"),
    "Ruby on Rails": ("rails", "ruby on rails"),
    "GraphQL": ("graphql",),
    "REST APIs": ("rest", "restful", "rest api", "rest apis", "api design"),
    "gRPC": ("grpc",),
    "Microservices": ("microservices", "microservice"),
    # data
    "PostgreSQL": ("postgresql", "postgres"),
    "MySQL": ("mysql",),
    "MongoDB": ("mongodb", "mongo"),
    "Redis": ("redis",),
    "Elasticsearch": ("elasticsearch", "opensearch"),
    "Kafka": ("kafka", "apache kafka"),
    "RabbitMQ": ("rabbitmq",),
    "Spark": ("spark", "apache spark", "pyspark"),
    "Airflow": ("airflow", "apache airflow"),
    "dbt": ("dbt",),
    "Snowflake": ("snowflake",),
    "BigQuery": ("bigquery",),
    "Pandas": ("pandas",),
    "NumPy": ("numpy",),
    "Data Pipelines": ("data pipelines", "data pipeline", "etl", "elt"),
    "Data Warehousing": ("data warehouse", "data warehousing"),
    "NoSQL": ("nosql",),
    # ML
    "Machine Learning": ("machine learning", "ml"),
    "Deep Learning": ("deep learning",),
    "PyTorch": ("pytorch",),
    "TensorFlow": ("tensorflow",),
    "scikit-learn": ("scikit-learn", "sklearn"),
    "NLP": ("nlp", "natural language processing"),
    "LLMs": ("llm", "llms", "large language models"),
    "Computer Vision": ("computer vision",),
    "MLOps": ("mlops",),
    "Statistics": ("statistics", "statistical"),
    # infrastructure
    "AWS": ("aws", "amazon web services"),
    "GCP": ("gcp", "google cloud"),
    "Azure": ("azure",),
    "Kubernetes": ("kubernetes", "k8s", "eks", "gke", "aks"),
    "Docker": ("docker", "containers", "containerization"),
    "Terraform": ("terraform",),
    "Ansible": ("ansible",),
    "Helm": ("helm",),
    "ArgoCD": ("argocd", "argo cd"),
    "GitOps": ("gitops",),
    "CI/CD": ("ci/cd", "continuous integration", "continuous delivery", "continuous deployment"),
    "GitHub Actions": ("github actions",),
    "Jenkins": ("jenkins",),
    "Linux": ("linux",),
    "Prometheus": ("prometheus",),
    "Grafana": ("grafana",),
    "Observability": ("observability", "monitoring"),
    "Istio": ("istio",),
    "Service Mesh": ("service mesh",),
    "Networking": ("networking", "tcp/ip", "dns"),
    "Security": ("security", "infosec", "appsec"),
    "Site Reliability Engineering": ("sre", "site reliability", "site reliability engineering"),
    "DevOps": ("devops",),
    "Infrastructure as Code": ("infrastructure as code", "iac"),
    "Serverless": ("serverless", "lambda"),
    # mobile and frontend
    "iOS": ("ios",),
    "Android": ("android",),
    "React Native": ("react native",),
    "Flutter": ("flutter",),
    # practice and product
    "Agile": ("agile", "scrum", "kanban"),
    "Testing": ("unit testing", "test automation", "tdd", "pytest"),
    "System Design": ("system design", "distributed systems", "scalability"),
    "Leadership": ("leadership", "people management", "team lead", "mentoring"),
    "Product Management": ("product management", "roadmap", "product discovery"),
    "UX Design": ("ux", "user experience", "figma", "ux design"),
    "SEO": ("seo",),
    "Marketing": ("marketing", "campaigns", "growth marketing"),
    "Sales": ("sales", "quota", "account executive", "pipeline generation"),
    "Accounting": ("accounting", "bookkeeping", "ifrs", "gaap"),
    "Nursing": ("nursing", "patient care", "registered nurse"),
    "Excel": ("excel", "spreadsheets"),
    "Copywriting": ("copywriting",),
}


@cache
def _alias_index() -> tuple[re.Pattern[str], dict[str, str]]:
    lookup: dict[str, str] = {}
    for canonical, aliases in SKILL_ALIASES.items():
        if len(canonical) > 1:  # a bare "R" is mostly "R&D" or an initial; only its aliases count
            lookup[canonical.lower()] = canonical
        for alias in aliases:
            lookup[alias] = canonical
    # Longest alias first so "react native" wins over "react"; boundaries that allow "C++" and "Node.js".
    alternatives = sorted(lookup, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w+#.])(" + "|".join(re.escape(a) for a in alternatives) + r")(?![\w+#]|\.\w)",
        re.IGNORECASE,
    )
    return pattern, lookup


# Aliases that are ordinary words as well; they count only when written the way a skill is.
_CASE_SENSITIVE = {
    "go": "Go",
    "rust": "Rust",
    "swift": "Swift",
    "ts": "TS",
    "node": "Node",
    "ml": "ML",
    "shell": "shell",
}


def canonical_skill(name: str) -> str:
    """The canonical name of a skill, or the name itself (trimmed) when it is not in the vocabulary."""
    _, lookup = _alias_index()
    return lookup.get(name.strip().lower(), name.strip())


def extract_skills(text: str) -> list[str]:
    """Canonical skills mentioned in text, in order of first mention, without repeats."""
    pattern, lookup = _alias_index()
    found: dict[str, None] = {}
    for match in pattern.finditer(text):
        raw = match.group(1)
        key = raw.lower()
        expected = _CASE_SENSITIVE.get(key)
        if expected is not None and raw != expected and raw != expected.upper():
            continue
        found.setdefault(lookup[key], None)
    return list(found)
