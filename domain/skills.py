"""A vocabulary of skills with aliases, and extraction of canonical skill names from free text.

Shared by the screener (coverage, missing skills), the CV writer (relevance) and the checks
(keyword coverage), so that every layer agrees on what "Kubernetes" or "PostgreSQL" is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache

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
    "SwiftUI": ("swiftui",),
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
    "Hibernate": ("hibernate", "jpa"),
    "Maven": ("maven",),
    "Gradle": ("gradle",),
    "Protocol Buffers": ("protocol buffers", "protobuf"),
    "Next.js": ("next.js", "nextjs"),
    "Ruby on Rails": ("rails", "ruby on rails"),
    "GraphQL": ("graphql",),
    "REST APIs": ("rest", "restful", "rest api", "rest apis", "api design", "rest services", "rest-schnittstellen"),
    "gRPC": ("grpc",),
    "Microservices": ("microservices", "microservice"),
    # data
    "PostgreSQL": ("postgresql", "postgres"),
    "MySQL": ("mysql",),
    "Oracle": ("oracle", "oracle database", "oracle databases"),
    "MongoDB": ("mongodb", "mongo"),
    "Redis": ("redis",),
    "Elasticsearch": ("elasticsearch", "opensearch"),
    "Kafka": ("kafka", "apache kafka"),
    "RabbitMQ": ("rabbitmq",),
    "Spark": ("spark", "apache spark", "pyspark", "spark structured streaming"),
    "Flink": ("flink", "apache flink"),
    "Apache Beam": ("apache beam", "beam"),
    "Dataflow": ("dataflow", "google dataflow"),
    "Pub/Sub": ("pub/sub", "pubsub"),
    "Kinesis": ("kinesis",),
    "Databricks": ("databricks",),
    "Delta Lake": ("delta lake",),
    "Iceberg": ("apache iceberg", "iceberg"),
    "Redshift": ("redshift", "amazon redshift"),
    "Dagster": ("dagster",),
    "Prefect": ("prefect",),
    "Looker": ("looker", "lookml"),
    "Power BI": ("power bi", "powerbi"),
    "Tableau": ("tableau",),
    "Celery": ("celery",),
    "Airflow": ("airflow", "apache airflow"),
    "dbt": ("dbt",),
    "Snowflake": ("snowflake",),
    "BigQuery": ("bigquery",),
    "Pandas": ("pandas",),
    "NumPy": ("numpy",),
    "Data Pipelines": ("data pipelines", "data pipeline", "etl", "elt"),
    "Data Warehousing": ("data warehouse", "data warehousing"),
    "Data Modeling": ("data modeling", "data modelling", "dimensional modeling", "dimensional modelling", "data vault"),
    "Data Quality": ("data quality", "data-quality", "great expectations", "data contracts"),
    "Hadoop": ("hadoop", "hdfs"),
    "Hive": ("apache hive",),
    "Trino": ("trino", "presto"),
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
    "Statistics": ("statistics", "statistical", "glms", "causal inference"),
    "A/B Testing": ("a/b testing", "a/b tests"),
    # infrastructure
    "AWS": ("aws", "amazon web services"),
    "GCP": ("gcp", "google cloud"),
    "Azure": ("azure",),
    "Kubernetes": ("kubernetes", "k8s", "eks", "gke", "aks"),
    "Docker": ("docker", "containers", "containerization", "containerisation"),
    "Terraform": ("terraform",),
    "Pulumi": ("pulumi",),
    "CloudFormation": ("cloudformation", "aws cdk"),
    "Ansible": ("ansible",),
    "Helm": ("helm",),
    "ArgoCD": ("argocd", "argo cd"),
    "GitOps": ("gitops",),
    "CI/CD": ("ci/cd", "continuous integration", "continuous delivery", "continuous deployment", "gitlab ci"),
    "GitHub Actions": ("github actions",),
    "Jenkins": ("jenkins",),
    "Git": ("git", "version control"),
    "Datadog": ("datadog",),
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
    "Customer Service": ("customer service", "kundenservice"),
    "Forklift Licence": ("forklift licence", "forklift license", "staplerschein"),
    "Driving Licence": ("driving licence", "driving license", "führerschein"),
    "Copywriting": ("copywriting",),
}


# Generic terms a posting uses for a kind of skill ("workflow orchestration"); each is met by any of
# the concrete skills it names. They are requirement vocabulary only: a CV line never "claims" a concept.
CONCEPT_ALIASES: dict[str, tuple[str, ...]] = {
    "Workflow Orchestration": (
        "workflow orchestration",
        "orchestration tool",
        "orchestration tools",
        "orchestrator",
        "orchestrators",
        "pipeline orchestration",
    ),
    "Lakehouse": ("lakehouse", "data lakehouse", "data lake"),
    "Stream Processing": ("stream processing", "streaming pipelines", "event streaming", "real-time pipelines"),
    "Cloud Data Warehouse": ("cloud data warehouse", "cloud warehouse", "cloud data warehouses"),
    "Container Orchestration": ("container orchestrator", "container orchestration"),
    "Relational Databases": ("relational databases", "relational database", "rdbms", "sql databases"),
    "Message Queues": ("message queues", "message queue", "message brokers", "message broker", "queues"),
    "Cloud Platforms": ("cloud experience", "cloud platforms", "cloud platform", "public cloud", "cloud provider"),
    "Automated Tests": ("automated tests", "write tests", "writing tests", "tests"),
}

# What meets a requirement besides the skill itself: a person who ran Snowflake has a cloud data
# warehouse, one who wrote PostgreSQL queries knows SQL.
SATISFIED_BY: dict[str, tuple[str, ...]] = {
    "Data Pipelines": ("Airflow", "dbt", "Spark", "Kafka", "Dagster", "Prefect", "Databricks", "Flink", "Apache Beam"),
    "Workflow Orchestration": ("Airflow", "Dagster", "Prefect", "ArgoCD"),
    "Lakehouse": ("Databricks", "Delta Lake", "Iceberg"),
    "Stream Processing": ("Kafka", "Flink", "Kinesis", "Pub/Sub", "Apache Beam"),
    "Cloud Data Warehouse": ("Snowflake", "BigQuery", "Redshift", "Databricks"),
    "Data Warehousing": ("Snowflake", "BigQuery", "Redshift", "dbt"),
    "Container Orchestration": ("Kubernetes",),
    "Relational Databases": ("PostgreSQL", "MySQL", "Oracle"),
    "Message Queues": ("Kafka", "RabbitMQ", "Celery", "Pub/Sub", "Kinesis"),
    "Cloud Platforms": ("AWS", "GCP", "Azure"),
    "Automated Tests": ("Testing",),
    "Testing": ("Automated Tests",),
    "Infrastructure as Code": ("Terraform", "Pulumi", "CloudFormation", "Ansible"),
    "SQL": ("PostgreSQL", "MySQL", "Snowflake", "BigQuery", "Redshift", "dbt", "Oracle"),
    "Machine Learning": ("PyTorch", "TensorFlow", "scikit-learn", "Deep Learning"),
    "Microservices": ("gRPC",),
    "CI/CD": ("GitHub Actions", "Jenkins", "ArgoCD"),
    "Docker": ("Kubernetes",),
    "Data Modeling": ("dbt", "Data Warehousing"),
    "Observability": ("Prometheus", "Grafana", "Datadog"),
    "Git": ("GitHub Actions",),
}


# Requirements that name a kind of skill; the concrete skills named beside one are examples of it.
GENERIC_TERMS = frozenset(
    [*CONCEPT_ALIASES, "Data Pipelines", "Data Warehousing", "Infrastructure as Code", "Machine Learning"]
)


@cache
def satisfying(requirement: str) -> frozenset[str]:
    """The canonical skills that meet a requirement: itself, and the concrete skills a generic term stands for."""
    return frozenset({requirement, *SATISFIED_BY.get(requirement, ())})


def satisfies(skill: str, requirement: str) -> bool:
    """Whether having `skill` meets a requirement for `requirement` (both canonical)."""
    return skill in satisfying(requirement)


@cache
def _alias_index(with_concepts: bool = False) -> tuple[re.Pattern[str], dict[str, str]]:
    lookup: dict[str, str] = {}
    vocabularies = [SKILL_ALIASES, CONCEPT_ALIASES] if with_concepts else [SKILL_ALIASES]
    for vocabulary in vocabularies:
        for canonical, aliases in vocabulary.items():
            if len(canonical) > 1:  # a bare "R" is mostly "R&D" or an initial; only its aliases count
                lookup.setdefault(canonical.lower(), canonical)
            for alias in aliases:
                lookup.setdefault(alias, canonical)
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
    # "REST" only in capitals: "the rest of the team" is not an API.
    "rest": "REST",
    "beam": "Beam",
    "prefect": "Prefect",
    "iceberg": "Iceberg",
    "oracle": "Oracle",
}


def canonical_skill(name: str) -> str:
    """The canonical name of a skill, or the name itself (trimmed) when it is not in the vocabulary."""
    _, lookup = _alias_index()
    return lookup.get(name.strip().lower(), name.strip())


def extract_skills(text: str) -> list[str]:
    """Canonical skills mentioned in text, in order of first mention, without repeats."""
    return list(_skills(text))


@lru_cache(maxsize=4096)
def _skills(text: str) -> tuple[str, ...]:
    # Cached: a posting's text is read for skills by the screener, the letter and each line's truth check.
    return tuple(name for name, _ in _mentions(text, with_concepts=False))


@lru_cache(maxsize=8192)
def _terms(text: str) -> tuple[tuple[str, int], ...]:
    return tuple(_mentions(text, with_concepts=True))


def extract_terms(text: str) -> list[tuple[str, int]]:
    """Canonical skills and generic concepts named in a requirement, with where each is first named.

    Cached: the same lines (boilerplate, a company's standard requirements) come back in many postings.
    """
    return list(_terms(text))


def names_any(text: str, terms: Iterable[str]) -> bool:
    """Whether a text names one of these canonical skills or concepts, by any alias ("k8s" names Kubernetes);
    a term outside the vocabulary (a posting's own skills field) counts written as a whole word."""
    named = {term for term, _ in _terms(text)}
    _, known = _alias_index(True)
    for term in terms:
        if term in named:
            return True
        if term.lower() not in known and re.search(rf"(?<!\w){re.escape(term.casefold())}(?!\w)", text.casefold()):
            return True
    return False


def _mentions(text: str, *, with_concepts: bool) -> list[tuple[str, int]]:
    pattern, lookup = _alias_index(with_concepts)
    found: dict[str, int] = {}
    for match in pattern.finditer(text):
        raw = match.group(1)
        key = raw.lower()
        expected = _CASE_SENSITIVE.get(key)
        if expected is not None and raw != expected and raw != expected.upper():
            continue
        found.setdefault(lookup[key], match.start())
    return list(found.items())
