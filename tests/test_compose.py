"""Static checks of the production setup: compose.replicas.yaml and compose.nginx.conf.

No Docker, podman or nginx needed. Each rule is a pure function from the two files' text to
a list of problems, so every rule is run on the real files (no problems) and on a broken
variant of them (the rule must notice), the way tests/test_dockerfile.py checks compose.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import DEFAULT_WEBHOOK_PORT

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.replicas.yaml"
NGINX = ROOT / "compose.nginx.conf"
README = ROOT / "README.md"

PROXY = "proxy"
DATABASE = "postgres"
# Telegram's header for setWebhook's secret_token, and nginx's variable for it.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_VARIABLE = "$http_x_telegram_bot_api_secret_token"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY", re.IGNORECASE)
# A bare `${VAR}` or `${VAR:?message}`; `${VAR:-default}` would write a default secret here.
REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(?::?\?[^}]*)?\}")
TOKEN_SHAPE = re.compile(r"\b\d{6,}:[A-Za-z0-9_-]{30,}")
# `scheme://user:password@`: the password part of a URL.
URL_PASSWORD = re.compile(r"://[^:/@\s]+:(.*)@")
HEALTH_PATHS = ("/healthz", "/readyz")

Rule = Callable[[str, str], list[str]]


# --- reading the files ----------------------------------------------------------------------


def services(compose: str) -> dict[str, dict[str, Any]]:
    """The services, with YAML anchors and `<<` merges resolved (PyYAML does both)."""
    document: Any = yaml.safe_load(compose)
    found = document.get("services") if isinstance(document, dict) else None
    return found if isinstance(found, dict) else {}


def top_level(compose: str, key: str) -> dict[str, Any]:
    document: Any = yaml.safe_load(compose)
    value = document.get(key) if isinstance(document, dict) else None
    return value if isinstance(value, dict) else {}


def bot_services(compose: str) -> dict[str, dict[str, Any]]:
    """The services built from this folder's Dockerfile: the bot's replicas."""
    found = {}
    for name, service in services(compose).items():
        build = service.get("build")
        context = build.get("context") if isinstance(build, dict) else build
        if context in (".", "./"):
            found[name] = service
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """`environment:` as a mapping, in either of its two compose forms."""
    value = service.get("environment") or {}
    if isinstance(value, list):
        pairs = (str(item).partition("=") for item in value)
        return {name: text for name, _, text in pairs}
    return {str(name): "" if text is None else str(text) for name, text in value.items()}


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume in the short `SOURCE:TARGET[:MODE]` form."""
    found = []
    for volume in service.get("volumes") or []:
        parts = str(volume).split(":")
        if len(parts) >= 2:
            found.append((parts[0], parts[1]))
    return found


def nginx_directives(nginx: str) -> list[tuple[str, list[str]]]:
    """(enclosing blocks, words) of each `;`-terminated directive, comments dropped, e.g.
    ("upstream reports_bots", ["server", "bot-1:8080", "max_fails=2"])."""
    found: list[tuple[str, list[str]]] = []
    blocks: list[str] = []
    words: list[str] = []
    for token in re.findall(r"[^{};]+|[{};]", re.sub(r"#[^\n]*", "", nginx)):
        if token == "{":
            blocks.append(" ".join(words))
        elif token == "}":
            if blocks:
                blocks.pop()
        elif token == ";":
            if words:
                found.append((" / ".join(blocks), words))
        else:
            words = token.split()
            continue
        words = []
    return found


def upstreams(nginx: str) -> dict[str, list[list[str]]]:
    """Each upstream block's `server` lines (their words after `server`)."""
    found: dict[str, list[list[str]]] = {}
    for block in re.findall(r"^\s*upstream\s+(\S+)\s*\{", re.sub(r"#[^\n]*", "", nginx), re.M):
        found[block] = []
    for where, words in nginx_directives(nginx):
        if where.startswith("upstream ") and words[0] == "server":
            found.setdefault(where.split()[1], []).append(words[1:])
    return found


def directive(nginx: str, name: str) -> list[list[str]]:
    return [words[1:] for _, words in nginx_directives(nginx) if words[0] == name]


# --- rules ----------------------------------------------------------------------------------


def published_ports_problems(compose: str, nginx: str) -> list[str]:
    """Only the proxy can be reached from outside: the replicas, their metrics and the
    database stay on the compose network."""
    everything = services(compose)
    publishing = sorted(name for name, service in everything.items() if service.get("ports"))
    problems = []
    if publishing != [PROXY]:
        problems.append(f"services publishing ports: {publishing}; only {PROXY!r} may")
    problems += [
        f"{name} uses network_mode: host, which publishes every port it opens"
        for name, service in everything.items()
        if service.get("network_mode") == "host"
    ]
    proxy = everything.get(PROXY, {})
    if not str(proxy.get("image", "")).startswith("nginx:"):
        problems.append(f"the proxy is {proxy.get('image')!r}, not the official nginx image")
    if not any(
        source.endswith(NGINX.name) and target.startswith("/etc/nginx/")
        for source, target in mounts(proxy)
    ):
        problems.append(f"the proxy does not mount {NGINX.name} into /etc/nginx/")
    return problems


def replica_problems(compose: str, nginx: str) -> list[str]:
    """At least two replicas of one image, in webhook mode, on the shared database."""
    bots = bot_services(compose)
    if len(bots) < 2:
        return [f"{len(bots)} bot services; the point of this file is two or more"]
    problems = []
    if len({str(service.get("image")) for service in bots.values()}) != 1:
        problems.append("the replicas run different images")
    volumes = top_level(compose, "volumes")
    state_volumes: list[str] = []
    for name, service in bots.items():
        env = environment(service)
        for variable in ("TELEGRAM_BOT_TOKEN", "WEBHOOK_URL", "WEBHOOK_SECRET", "DATABASE_URL"):
            if not env.get(variable):
                problems.append(f"{name} does not set {variable}")
        if not env.get("WEBHOOK_URL", "").startswith("${"):
            problems.append(f"{name}: WEBHOOK_URL must come from .env (a ${{...}} reference)")
        if not env.get("DATABASE_URL", "").startswith("postgresql://"):
            problems.append(f"{name}: DATABASE_URL is not a postgresql:// URL")
        elif f"@{DATABASE}:" not in env["DATABASE_URL"]:
            problems.append(f"{name}: DATABASE_URL does not point at the {DATABASE} service")
        if not env.get("METRICS_PORT", "").isdigit():
            problems.append(f"{name} sets no METRICS_PORT (its health endpoints)")
        depends = service.get("depends_on") or {}
        condition = (
            depends.get(DATABASE, {}).get("condition") if isinstance(depends, dict) else None
        )
        if condition != "service_healthy":
            problems.append(f"{name} does not wait for {DATABASE} to be healthy")
        if service.get("restart") not in ("unless-stopped", "always"):
            problems.append(f"{name}: restart is {service.get('restart')!r}")
        data_dir = env.get("DATA_DIR", "/data/state")
        own = [source for source, target in mounts(service) if target == data_dir]
        if not own or own[0] not in volumes:
            problems.append(f"{name} keeps {data_dir} in no named volume of its own")
        state_volumes += own
    if len(set(state_volumes)) != len(state_volumes):
        problems.append(f"replicas share a DATA_DIR volume: {state_volumes}")
    return problems


def secret_problems(compose: str, nginx: str) -> list[str]:
    """Every secret is a `${VAR}` reference to .env, never a value written here."""
    problems = []
    if TOKEN_SHAPE.search(compose):
        problems.append("something shaped like a bot token is written into the compose file")
    for name, service in services(compose).items():
        for variable, value in environment(service).items():
            if SECRET_NAME.search(variable) and not REFERENCE.fullmatch(value):
                problems.append(f"{name}: {variable} is not a bare ${{VAR}} reference")
            for password in URL_PASSWORD.findall(value):
                if not REFERENCE.fullmatch(password):
                    problems.append(f"{name}: {variable} holds a password, not a reference")
    return problems


def database_problems(compose: str, nginx: str) -> list[str]:
    """The official postgres image, its data in a named volume, a pg_isready healthcheck."""
    service = services(compose).get(DATABASE)
    if service is None:
        return [f"no {DATABASE} service"]
    problems = []
    if not re.fullmatch(r"postgres:\d+[\w.-]*", str(service.get("image"))):
        problems.append(f"{DATABASE} runs {service.get('image')!r}, not a pinned postgres image")
    if not any(
        source in top_level(compose, "volumes") and target.startswith("/var/lib/postgresql")
        for source, target in mounts(service)
    ):
        problems.append(f"{DATABASE} keeps its data in no named volume")
    test = (service.get("healthcheck") or {}).get("test") or []
    if "pg_isready" not in " ".join(map(str, test if isinstance(test, list) else [test])):
        problems.append(f"{DATABASE}'s healthcheck does not ask pg_isready")
    if not environment(service).get("POSTGRES_PASSWORD"):
        problems.append(f"{DATABASE} sets no POSTGRES_PASSWORD")
    return problems


def healthcheck_problems(compose: str, nginx: str) -> list[str]:
    """Each replica's healthcheck asks its own /healthz or /readyz."""
    problems = []
    for name, service in bot_services(compose).items():
        check = service.get("healthcheck") or {}
        test = check.get("test") or []
        words = " ".join(map(str, test if isinstance(test, list) else [test]))
        if check.get("disable") or words.startswith("NONE"):
            problems.append(f"{name}'s healthcheck is off")
        elif not any(path in words for path in HEALTH_PATHS):
            problems.append(f"{name}'s healthcheck asks neither /healthz nor /readyz")
    return problems


def reports_problems(compose: str, nginx: str) -> list[str]:
    """Every replica indexes the same reports folder (each its own index of it)."""
    sources: dict[str, list[str]] = {}
    for name, service in bot_services(compose).items():
        reports_dir = environment(service).get("REPORTS_DIR", "/data/reports")
        sources[name] = [s for s, target in mounts(service) if target == reports_dir]
    if not sources or any(len(found) != 1 for found in sources.values()):
        return [f"each replica must mount one reports folder: {sources}"]
    if len({found[0] for found in sources.values()}) != 1:
        return [f"the replicas mount different reports folders: {sources}"]
    return []


def upstream_problems(compose: str, nginx: str) -> list[str]:
    """The upstream lists exactly the bot services, on the WEBHOOK_PORT each one uses,
    with passive health checks, and the webhook is proxied to it."""
    expected = set()
    problems = []
    for name, service in bot_services(compose).items():
        port = environment(service).get("WEBHOOK_PORT", str(DEFAULT_WEBHOOK_PORT))
        if not port.isdigit():
            problems.append(f"{name}: WEBHOOK_PORT {port!r} is not a port nginx can name")
        expected.add(f"{name}:{port}")
    found = upstreams(nginx)
    if len(found) != 1:
        return [*problems, f"{len(found)} upstream blocks; expected one with every replica"]
    upstream, servers = next(iter(found.items()))
    listed = {words[0] for words in servers if words}
    if listed != expected or len(servers) != len(listed):
        problems.append(f"upstream {upstream} lists {sorted(listed)}, not {sorted(expected)}")
    for words in servers:
        params = {word.split("=")[0] for word in words[1:]}
        if not {"max_fails", "fail_timeout"} <= params:
            problems.append(f"{words[0]} has no max_fails/fail_timeout (passive health)")
    passes = directive(nginx, "proxy_pass")
    if passes != [[f"http://{upstream}"]]:
        problems.append(f"proxy_pass is {passes}, not http://{upstream} alone")
    retries = directive(nginx, "proxy_next_upstream")
    wanted = {"error", "timeout", "http_502", "http_503", "non_idempotent"}
    if len(retries) != 1 or not wanted <= set(retries[0]):
        problems.append(f"proxy_next_upstream {retries} lacks some of {sorted(wanted)}")
    return problems


def header_problems(compose: str, nginx: str) -> list[str]:
    """The secret header reaches the replicas (without it every update gets 403)."""
    problems = []
    sets = {words[0].lower(): words[1:] for words in directive(nginx, "proxy_set_header")}
    if sets.get(SECRET_HEADER.lower()) != [SECRET_VARIABLE]:
        problems.append(f"{SECRET_HEADER} is not passed on as {SECRET_VARIABLE}")
    if ["off"] in directive(nginx, "proxy_pass_request_headers"):
        problems.append("proxy_pass_request_headers off drops Telegram's headers")
    if any(SECRET_VARIABLE in " ".join(words) for words in directive(nginx, "log_format")):
        problems.append("a log_format writes the webhook's secret into the log")
    return problems


def body_size_problems(compose: str, nginx: str) -> list[str]:
    """A body limit set on purpose: big enough for any update, small enough to stop junk."""
    sizes = directive(nginx, "client_max_body_size")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if len(sizes) != 1 or not re.fullmatch(r"\d+[kmg]?", sizes[0][0].lower()):
        return [f"client_max_body_size {sizes}: set it once, e.g. 1m"]
    value = sizes[0][0].lower()
    size = int(value.rstrip("kmg")) * units.get(value[-1], 1)
    if not 64 << 10 <= size <= 10 << 20:
        return [f"client_max_body_size {value}: keep it between 64k and 10m"]
    return []


RULES: list[Rule] = [
    published_ports_problems,
    replica_problems,
    secret_problems,
    database_problems,
    healthcheck_problems,
    reports_problems,
    upstream_problems,
    header_problems,
    body_size_problems,
]


# --- tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> str:
    return COMPOSE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def nginx() -> str:
    return NGINX.read_text(encoding="utf-8")


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_production_setup_follows_rule(compose: str, nginx: str, rule: Rule) -> None:
    assert rule(compose, nginx) == []


def mutate(text: str, old: str, new: str) -> str:
    """Replace `old` with `new`, insisting that `old` was there (else the test proves nothing)."""
    assert old in text, f"{old!r} is no longer in the file; update this test"
    return text.replace(old, new)


BOT_1 = "  bot-1:\n    <<: *bot\n"
BOT_2_VOLUMES = "      - *reports\n      - bot-2-state:/data/state\n"
BOT_3 = "  bot-3:\n    <<: *bot\n    volumes:\n      - *reports\n      - bot-3-state:/data/state\n"
SECRET_LINE = f"proxy_set_header {SECRET_HEADER} {SECRET_VARIABLE};"

# (rule, file, text to replace, replacement, words expected in a problem)
BROKEN = [
    (published_ports_problems, "compose", BOT_1, BOT_1 + '    ports: ["9464:9464"]\n', "bot-1"),
    (published_ports_problems, "compose", "    ports:\n", "    expose:\n", "only 'proxy'"),
    (published_ports_problems, "compose", BOT_1, BOT_1 + "    network_mode: host\n", "host"),
    (published_ports_problems, "compose", "image: nginx:1.28", "image: caddy:2", "official"),
    (
        published_ports_problems,
        "compose",
        "./compose.nginx.conf:",
        "./other.conf:",
        "does not mount",
    ),
    (replica_problems, "compose", "  bot-2:\n    <<: *bot\n", "  bot-2:\n", "1 bot services"),
    (replica_problems, "compose", "@postgres:5432", "@localhost:5432", "postgres service"),
    (replica_problems, "compose", "DATABASE_URL: postgresql", "DATABASE_URL: sqlite", "postgres"),
    (replica_problems, "compose", "WEBHOOK_URL: ${", "WEBHOOK_URL: https://x/${", ".env"),
    (
        replica_problems,
        "compose",
        "condition: service_healthy",
        "condition: service_started",
        "wait",
    ),
    (replica_problems, "compose", "bot-2-state:/data/state", "bot-1-state:/data/state", "share"),
    (replica_problems, "compose", "bot-2-state:/data/state", "/data/state", "named volume"),
    (replica_problems, "compose", 'METRICS_PORT: "9464"', 'METRIC_PORT: "9464"', "METRICS_PORT"),
    (replica_problems, "compose", BOT_1, BOT_1 + '    restart: "no"\n', "restart"),
    (replica_problems, "compose", BOT_1, BOT_1 + "    image: other:1\n", "different images"),
    (
        secret_problems,
        "compose",
        "WEBHOOK_SECRET: ${WEBHOOK_SECRET",
        "WEBHOOK_SECRET: hunter2\n    X: ${WEBHOOK_SECRET",
        "WEBHOOK_SECRET",
    ),
    (
        secret_problems,
        "compose",
        "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?",
        "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-hunter2}\n      X: ${X:?",
        "POSTGRES_PASSWORD",
    ),
    (
        secret_problems,
        "compose",
        "reports_bot:${POSTGRES_PASSWORD",
        "reports_bot:pw${X",
        "password",
    ),
    (
        secret_problems,
        "compose",
        "TELEGRAM_BOT_TOKEN: ${TELEGRAM_BOT_TOKEN",
        "TELEGRAM_BOT_TOKEN: 123456789:" + "A" * 35 + "\n    X: ${TELEGRAM_BOT_TOKEN",
        "token",
    ),
    (database_problems, "compose", "image: postgres:17", "image: postgres", "pinned"),
    (database_problems, "compose", "image: postgres:17", "image: bitnami/postgresql:17", "pinned"),
    (database_problems, "compose", "test: [CMD, pg_isready", "test: [CMD, true", "pg_isready"),
    (
        database_problems,
        "compose",
        "postgres-data:/var/lib/postgresql/data",
        "/srv/pg:/var/lib/postgresql/data",
        "named volume",
    ),
    (
        healthcheck_problems,
        "compose",
        'for path in ("/healthz", "/readyz")',
        "for path in ()",
        "neither",
    ),
    (
        healthcheck_problems,
        "compose",
        "  healthcheck:\n    test:",
        "  healthcheck:\n    disable: true\n    test:",
        "off",
    ),
    (
        reports_problems,
        "compose",
        BOT_2_VOLUMES,
        "      - ./other:/data/reports:ro\n      - bot-2-state:/data/state\n",
        "different",
    ),
    (
        reports_problems,
        "compose",
        BOT_2_VOLUMES,
        "      - bot-2-state:/data/state\n",
        "one reports",
    ),
    (upstream_problems, "compose", BOT_1, BOT_3 + BOT_1, "bot-3:8080"),
    (upstream_problems, "compose", 'WEBHOOK_PORT: "8080"', 'WEBHOOK_PORT: "8081"', "bot-1:8081"),
    (upstream_problems, "compose", 'WEBHOOK_PORT: "8080"', "WEBHOOK_PORT: ${PORT}", "not a port"),
    (
        upstream_problems,
        "nginx",
        "    server bot-2:8080 max_fails=2 fail_timeout=10s;\n",
        "",
        "lists",
    ),
    (
        upstream_problems,
        "nginx",
        "server bot-2:8080 max_fails=2",
        "server bot-2:8081 max_fails=2",
        "lists",
    ),
    (
        upstream_problems,
        "nginx",
        "server bot-2:8080 max_fails=2 fail_timeout=10s;",
        "server bot-2:8080;",
        "passive",
    ),
    (
        upstream_problems,
        "nginx",
        "server bot-1:8080 max",
        "server bot-1:8080;\n    server bot-1:8080 max",
        "lists",
    ),
    (
        upstream_problems,
        "nginx",
        "proxy_pass http://reports_bots;",
        "proxy_pass http://bot-1:8080;",
        "proxy_pass",
    ),
    (upstream_problems, "nginx", " non_idempotent;", ";", "non_idempotent"),
    (upstream_problems, "nginx", "http_502 http_503", "http_502", "http_503"),
    (header_problems, "nginx", SECRET_LINE, "", SECRET_HEADER),
    (header_problems, "nginx", SECRET_LINE, f"# {SECRET_LINE}", SECRET_HEADER),
    (
        header_problems,
        "nginx",
        SECRET_LINE,
        SECRET_LINE + "\nproxy_pass_request_headers off;",
        "drops",
    ),
    (header_problems, "nginx", "server {", f"log_format x '{SECRET_VARIABLE}';\nserver {{", "log"),
    (body_size_problems, "nginx", "client_max_body_size 1m;", "", "set it once"),
    (body_size_problems, "nginx", "client_max_body_size 1m;", "client_max_body_size 0;", "between"),
    (
        body_size_problems,
        "nginx",
        "client_max_body_size 1m;",
        "client_max_body_size 100m;",
        "between",
    ),
]


@pytest.mark.parametrize(("rule", "which", "old", "new", "expected"), BROKEN)
def test_rule_catches_a_broken_variant(
    compose: str, nginx: str, rule: Rule, which: str, old: str, new: str, expected: str
) -> None:
    if which == "compose":
        compose = mutate(compose, old, new)
    else:
        nginx = mutate(nginx, old, new)
    problems = rule(compose, nginx)
    assert any(expected in problem for problem in problems), problems


def test_the_replicas_are_one_definition_not_copies(compose: str) -> None:
    """The replicas differ only in their own state volume, so a setting cannot drift."""
    bots = bot_services(compose)
    assert len(bots) >= 2
    alike = [
        {key: value for key, value in service.items() if key != "volumes"}
        for service in bots.values()
    ]
    assert all(shape == alike[0] for shape in alike)
    assert compose.count("<<: *bot") == len(bots)


def test_nginx_parser_reads_blocks_and_skips_comments() -> None:
    text = "upstream u {\n  # server x:1;\n  server a:1 max_fails=1;\n}\nserver { listen 80; }\n"
    assert nginx_directives(text) == [
        ("upstream u", ["server", "a:1", "max_fails=1"]),
        ("server", ["listen", "80"]),
    ]
    assert upstreams(text) == {"u": [["a:1", "max_fails=1"]]}


def test_readme_explains_how_to_start_it() -> None:
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Several replicas (production)", 1)
    assert len(section) == 2, "README.md lost its section on compose.replicas.yaml"
    body = section[1].split("\n## ", 1)[0]
    for words in ("podman compose -f compose.replicas.yaml up -d", "docker compose", "TLS"):
        assert words in body, f"README's replicas section does not say {words!r}"
