"""Static checks of the container files: Dockerfile, .dockerignore and compose.yaml.

They run everywhere (no Docker or podman needed); `.ci/container-test` does the real build.
Each rule is a pure function from file text to a list of problems, so every rule is tested on
the real file (no problems) and on a broken variant of it (the rule must notice).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"

# A Telegram bot token looks like "123456789:AAH...": digits, a colon, 35 url-safe chars.
TOKEN_SHAPE = re.compile(r"\b\d{6,}:[A-Za-z0-9_-]{30,}")
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY", re.IGNORECASE)


# --- Dockerfile parsing -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case, e.g. "RUN"
    args: str  # everything after the keyword, continuation lines joined
    stage: int  # index of the FROM stage it belongs to; -1 before the first FROM


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order; comment lines are dropped even inside continuations, like Docker."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, " ".join(args.split()), stage))
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max((i.stage for i in instructions), default=-1)
    return [i for i in instructions if i.stage == last and last >= 0]


def env_pairs(args: str) -> dict[str, str]:
    """`ENV A=1 B="x y"` or the legacy `ENV A value`."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words if "=" in word)


def exec_form(args: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None when it is shell form."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def split_options(args: str) -> tuple[dict[str, str], str]:
    """`--interval=30s --timeout=5s CMD [...]` -> ({"interval": "30s", ...}, "CMD [...]")."""
    options: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        name, _, value = option[2:].partition("=")
        options[name] = value
        rest = rest.strip()
    return options, rest


# --- Dockerfile rules ---------------------------------------------------------------------


def base_image_problems(text: str) -> list[str]:
    instructions = parse_dockerfile(text)
    problems = []
    if not instructions or (instructions[0].keyword, instructions[0].args) != (
        "ARG",
        "BASE_IMAGE=python:3.12-slim",
    ):
        problems.append("the first instruction must be `ARG BASE_IMAGE=python:3.12-slim`")
    froms = [i for i in instructions if i.keyword == "FROM"]
    if len(instructions) < 2 or instructions[1].keyword != "FROM":
        problems.append("`FROM ${BASE_IMAGE}` must follow the BASE_IMAGE argument")
    for instruction in froms:
        image = instruction.args.split()[0] if instruction.args else ""
        if image not in ("${BASE_IMAGE}", "$BASE_IMAGE"):
            problems.append(
                f"`FROM {instruction.args}` ignores BASE_IMAGE; CI swaps the base through it"
            )
    return problems


def user_problems(text: str) -> list[str]:
    users = [i.args for i in final_stage(parse_dockerfile(text)) if i.keyword == "USER"]
    if not users:
        return ["the final stage has no USER: the bot would run as root"]
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1])
    if match is None:
        return [f"`USER {users[-1]}` must be numeric (uid:gid) so non-root is provable"]
    if int(match.group(1)) == 0:
        return ["`USER 0` is root"]
    return []


def entrypoint_problems(text: str) -> list[str]:
    stage = final_stage(parse_dockerfile(text))
    entrypoints = [i.args for i in stage if i.keyword == "ENTRYPOINT"]
    if not entrypoints:
        return ["the final stage has no ENTRYPOINT"]
    argv = exec_form(entrypoints[-1])
    if argv is None:
        return [f"`ENTRYPOINT {entrypoints[-1]}` is shell form; the bot would not be PID 1"]
    problems = []
    if Path(argv[0]).name != "reports-bot":
        problems.append(f"ENTRYPOINT runs {argv[0]!r}, not reports-bot")
    commands = [i.args for i in stage if i.keyword == "CMD"]
    if commands and exec_form(commands[-1]) is None:
        problems.append(f"`CMD {commands[-1]}` is shell form; use a JSON array")
    return problems


def secret_problems(text: str) -> list[str]:
    problems = []
    for instruction in parse_dockerfile(text):
        if instruction.keyword == "ENV":
            names = list(env_pairs(instruction.args))
        elif instruction.keyword == "ARG":
            names = [instruction.args.split("=", 1)[0]]
        else:
            continue
        problems += [
            f"{instruction.keyword} {name}: secrets are passed at run time, never built in"
            for name in names
            if SECRET_NAME.search(name)
        ]
    if TOKEN_SHAPE.search(text):
        problems.append("something shaped like a Telegram bot token is in the Dockerfile")
    return problems


def healthcheck_problems(text: str) -> list[str]:
    checks = [i.args for i in final_stage(parse_dockerfile(text)) if i.keyword == "HEALTHCHECK"]
    if not checks:
        return ["the final stage has no HEALTHCHECK"]
    options, command = split_options(checks[-1])
    keyword, _, rest = command.partition(" ")
    if keyword.upper() != "CMD":
        return [f"`HEALTHCHECK {checks[-1]}` does not run a check"]
    argv = exec_form(rest)
    problems = []
    if argv is None or Path(argv[0]).name != "reports-bot" or argv[1:] != ["health"]:
        problems.append(f"HEALTHCHECK runs {rest}, not the heartbeat check reports-bot health")
    problems += [
        f"HEALTHCHECK has no --{name}; say how often and how long the check may take"
        for name in ("interval", "timeout", "start-period")
        if name not in options
    ]
    return problems


def data_dir_problems(text: str) -> list[str]:
    stage = final_stage(parse_dockerfile(text))
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            env |= env_pairs(instruction.args)
    problems = [
        f"ENV {name} must be {wanted} (found {env.get(name)!r})"
        for name, wanted in (("REPORTS_DIR", "/data/reports"), ("DATA_DIR", "/data/state"))
        if env.get(name) != wanted
    ]
    seeds_copied = any(
        i.keyword == "COPY"
        and "--from" not in i.args
        and (words := i.args.split())[-1].rstrip("/") == "/data/reports"
        and any(word.rstrip("/") == "seeds" for word in words[:-1])
        for i in stage
    )
    if not seeds_copied:
        problems.append("the seed reports are not copied to /data/reports")
    volumes = [i.args for i in stage if i.keyword == "VOLUME"]
    if not any("/data/state" in (exec_form(v) or v.split()) for v in volumes):
        problems.append('the state directory needs `VOLUME ["/data/state"]`')
    return problems


def metrics_problems(text: str) -> list[str]:
    """METRICS_PORT is on in the image (the HEALTHCHECK asks its /readyz), on every
    interface of the container (a Prometheus beside it must reach it), and exposed."""
    stage = final_stage(parse_dockerfile(text))
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            env |= env_pairs(instruction.args)
    port = env.get("METRICS_PORT", "")
    problems = []
    if not port.isdigit():
        problems.append("ENV METRICS_PORT must be set: the HEALTHCHECK asks /readyz on it")
    if env.get("METRICS_LISTEN") != "0.0.0.0":
        problems.append("ENV METRICS_LISTEN must be 0.0.0.0, or nothing outside can scrape")
    exposed = [w.split("/")[0] for i in stage if i.keyword == "EXPOSE" for w in i.args.split()]
    if port.isdigit() and port not in exposed:
        problems.append(f"EXPOSE {port}, the metrics port")
    return problems


def dev_tool_problems(text: str) -> list[str]:
    """The final stage gets the built venv, not pip installs, tests or dev extras."""
    problems = []
    for instruction in final_stage(parse_dockerfile(text)):
        args = instruction.args
        if instruction.keyword == "RUN" and re.search(r"\bpip3?\b.*\binstall\b", args):
            problems.append(f"`RUN {args}` installs with pip in the final stage")
        if instruction.keyword == "COPY" and re.search(r"(^|\s)\.?/?tests/?(\s|$)", args):
            problems.append(f"`COPY {args}` ships the tests")
    if re.search(r"\[(test|dev)\]", text):
        problems.append("the image installs the test or dev extras")
    return problems


DOCKERFILE_RULES: list[Callable[[str], list[str]]] = [
    base_image_problems,
    user_problems,
    entrypoint_problems,
    secret_problems,
    healthcheck_problems,
    data_dir_problems,
    metrics_problems,
    dev_tool_problems,
]


# --- .dockerignore ------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax (Go filepath.Match plus `**` for any number of folders)."""
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out += "(?:.*/)?"
            else:
                out += ".*"
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.find("]", i)
            out += pattern[i : end + 1].replace("[!", "[^") if end > i else re.escape(char)
            i = end if end > i else i
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out)


def parse_dockerignore(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per pattern line, in order."""
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line[1:].strip() if exception else line
        pattern = "/".join(part for part in pattern.strip("/").split("/") if part not in ("", "."))
        rules.append((exception, _pattern_regex(pattern)))
    return rules


def is_ignored(rules: list[tuple[bool, re.Pattern[str]]], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for exception, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            ignored = not exception
    return ignored


MUST_STAY_OUT = [
    "tests/test_dockerfile.py",
    "tests/botapi/server.py",
    ".git/HEAD",
    ".git/objects/ab/cdef",
    ".venv/bin/python",
    ".env",
    ".mypy_cache/3.11/bot/cli.data.json",
    ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/0.6.0/123",
    ".hypothesis/examples/abc",
    "bot/__pycache__/cli.cpython-311.pyc",
    "retrieval/__pycache__/search.cpython-312.pyc",
    "reports_bot.egg-info/PKG-INFO",
]
MUST_GO_IN = [
    "pyproject.toml",
    "bot/cli.py",
    "bot/py.typed",
    "retrieval/models.py",
    "retrieval/data/stopwords.txt",
    "seeds/000_cd10308accc684f1.txt",
]


def dockerignore_problems(text: str) -> list[str]:
    rules = parse_dockerignore(text)
    return [
        f"{path} would be sent to the build"
        for path in MUST_STAY_OUT
        if not is_ignored(rules, path)
    ] + [f"{path} is left out of the build" for path in MUST_GO_IN if is_ignored(rules, path)]


# --- compose.yaml -------------------------------------------------------------------------


def compose_problems(text: str) -> list[str]:
    document: Any = yaml.safe_load(text)
    services = document.get("services", {}) if isinstance(document, dict) else {}
    service = services.get("reports-bot")
    if not isinstance(service, dict):
        return ["compose.yaml has no `reports-bot` service"]
    problems = []
    build = service.get("build")
    context = build.get("context") if isinstance(build, dict) else build
    if context not in (".", "./"):
        problems.append(f"the service builds from {context!r}, not this folder (`build: .`)")
    env_file = service.get("env_file")
    env_files = env_file if isinstance(env_file, list) else [env_file]
    paths = [f.get("path") if isinstance(f, dict) else f for f in env_files]
    if ".env" not in paths and "./.env" not in paths:
        problems.append("the service needs `env_file: .env` (the token lives there)")
    mounts = [v.split(":") for v in service.get("volumes", []) if isinstance(v, str)]
    if not any(
        m[0].rstrip("/") in ("./reports", "reports") and m[1:2] == ["/data/reports"] for m in mounts
    ):
        problems.append("mount ./reports on /data/reports")
    declared = document.get("volumes") or {}
    if not any(m[1:2] == ["/data/state"] and m[0] in declared for m in mounts):
        problems.append("keep /data/state in a named volume declared under top-level volumes")
    if service.get("restart") != "unless-stopped":
        problems.append(f"restart is {service.get('restart')!r}, not unless-stopped")
    environment = service.get("environment") or {}
    if isinstance(environment, dict) and any(
        SECRET_NAME.search(name) and value for name, value in environment.items()
    ):
        problems.append("a secret is written into compose.yaml; keep it in .env")
    return problems


# --- tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


@pytest.mark.parametrize("rule", DOCKERFILE_RULES, ids=lambda rule: rule.__name__)
def test_dockerfile_follows_rule(dockerfile: str, rule: Callable[[str], list[str]]) -> None:
    assert rule(dockerfile) == []


def mutate(text: str, old: str, new: str) -> str:
    """Replace `old` with `new`, insisting that `old` was there (else the test proves nothing)."""
    assert old in text, f"{old!r} is no longer in the file; update this test"
    return text.replace(old, new)


# (rule, text to replace in the real Dockerfile, replacement, words expected in a problem)
BROKEN_DOCKERFILES = [
    (base_image_problems, "ARG BASE_IMAGE=python:3.12-slim", "ARG BASE_IMAGE=python:3.11", "first"),
    (base_image_problems, "FROM ${BASE_IMAGE}\n", "FROM python:3.12-slim\n", "ignores"),
    (user_problems, "USER 10001:10001", "USER bot", "numeric"),
    (user_problems, "USER 10001:10001", "USER 0:0", "root"),
    (user_problems, "USER 10001:10001", "", "no USER"),
    (entrypoint_problems, 'ENTRYPOINT ["reports-bot"]', "ENTRYPOINT reports-bot", "shell form"),
    (entrypoint_problems, 'ENTRYPOINT ["reports-bot"]', 'ENTRYPOINT ["sh"]', "not reports-bot"),
    (entrypoint_problems, 'CMD ["run"]', "CMD run", "shell form"),
    (secret_problems, "ENV PATH=", "ENV TELEGRAM_BOT_TOKEN=x PATH=", "TELEGRAM_BOT_TOKEN"),
    (secret_problems, "ARG PIP_INDEX_URL", "ARG TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"),
    (
        secret_problems,
        "ENV PATH=",
        "ENV BOT=123456789:" + "A" * 35 + " PATH=",
        "token",
    ),
    (healthcheck_problems, "HEALTHCHECK --interval", "HEALTHCHECK NONE\n# --interval", "not run"),
    (healthcheck_problems, 'CMD ["reports-bot", "health"]', 'CMD ["true"]', "not the heartbeat"),
    (healthcheck_problems, "--timeout=", "--time-out=", "--timeout"),
    (data_dir_problems, "REPORTS_DIR=/data/reports", "REPORTS_DIR=/reports", "REPORTS_DIR"),
    (data_dir_problems, "DATA_DIR=/data/state", "DATA_DIR=/tmp", "DATA_DIR"),
    (data_dir_problems, "COPY seeds/ /data/reports/", "COPY seeds/ /srv/", "seed reports"),
    (data_dir_problems, 'VOLUME ["/data/state"]', 'VOLUME ["/data/other"]', "VOLUME"),
    (metrics_problems, "METRICS_PORT=9464", "METRICS_PORTS=9464", "METRICS_PORT must"),
    (metrics_problems, "METRICS_LISTEN=0.0.0.0", "METRICS_LISTEN=127.0.0.1", "METRICS_LISTEN"),
    (metrics_problems, "EXPOSE 9464", "EXPOSE 9000", "EXPOSE 9464"),
    (dev_tool_problems, "USER 10001:10001", "RUN pip install pytest\nUSER 10001:10001", "pip"),
    (dev_tool_problems, "USER 10001:10001", "COPY tests/ /tests/\nUSER 10001:10001", "tests"),
    (dev_tool_problems, "install --no-cache-dir .", "install --no-cache-dir '.[test]'", "extras"),
]


@pytest.mark.parametrize(("rule", "old", "new", "expected"), BROKEN_DOCKERFILES)
def test_dockerfile_rule_catches_a_broken_variant(
    dockerfile: str, rule: Callable[[str], list[str]], old: str, new: str, expected: str
) -> None:
    problems = rule(mutate(dockerfile, old, new))
    assert any(expected in problem for problem in problems), problems


def test_parser_joins_continuations_and_skips_comment_lines() -> None:
    text = "FROM x\nRUN a \\\n# a comment inside\n    && b\nUSER 1\n"
    parsed = parse_dockerfile(text)
    assert [(i.keyword, i.args, i.stage) for i in parsed] == [
        ("FROM", "x", 0),
        ("RUN", "a && b", 0),
        ("USER", "1", 0),
    ]


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        ("tests", "tests/a/b.py", True),
        ("tests/", "tests/a.py", True),
        ("*.md", "README.md", True),
        ("*.md", "docs/a.md", False),  # `*` never crosses a folder
        ("**/__pycache__", "__pycache__/x.pyc", True),
        ("**/__pycache__", "a/b/__pycache__/x.pyc", True),
        ("*\n!bot/", "bot/cli.py", False),
        ("*\n!bot/", "botany/x.py", True),
        ("*\n!bot/\n**/*.pyc", "bot/x.pyc", True),
        ("!bot/\n*", "bot/cli.py", True),  # the last matching pattern decides
    ],
)
def test_dockerignore_matcher_follows_docker_rules(patterns: str, path: str, ignored: bool) -> None:
    assert is_ignored(parse_dockerignore(patterns), path) is ignored


def test_dockerignore_keeps_tests_git_and_caches_out() -> None:
    assert dockerignore_problems(DOCKERIGNORE.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "tests/test_dockerfile.py would be sent"),
        ("*\n!bot/\n!retrieval/\n!pyproject.toml\n!seeds/", "__pycache__"),
        ("*\n!tests/\n!bot/\n!retrieval/\n!pyproject.toml\n!seeds/\n**/__pycache__", "tests/"),
        ("tests\n.git\nretrieval\n", "retrieval/models.py is left out"),
    ],
)
def test_dockerignore_rule_catches_a_leaky_file(text: str, expected: str) -> None:
    assert any(expected in problem for problem in dockerignore_problems(text))


@pytest.fixture(scope="module")
def compose() -> str:
    return COMPOSE.read_text(encoding="utf-8")


def test_compose_runs_the_service_with_env_file_reports_and_restart(compose: str) -> None:
    assert compose_problems(compose) == []


BROKEN_COMPOSE = [
    ("reports-bot:\n", "bot:\n", "no `reports-bot` service"),
    ("build: .", "build: ./other", "builds from"),
    ("env_file: .env", "env_file: bot.env", "env_file"),
    ("./reports:/data/reports:ro", "./reports:/reports:ro", "./reports"),
    ("bot-state:/data/state", "/tmp/state:/data/state", "named volume"),
    ("restart: unless-stopped", "restart: always", "unless-stopped"),
    (
        "restart: unless-stopped",
        "restart: unless-stopped\n    environment:\n      TELEGRAM_BOT_TOKEN: abc",
        "secret",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), BROKEN_COMPOSE)
def test_compose_rule_catches_a_broken_variant(
    compose: str, old: str, new: str, expected: str
) -> None:
    problems = compose_problems(mutate(compose, old, new))
    assert any(expected in problem for problem in problems), problems
