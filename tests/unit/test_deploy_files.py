"""Static checks of the container deployment: docker-compose.yml, the service Dockerfiles,
.dockerignore and deploy/. Everything is parsed; no Docker engine is needed."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from cungdan_ingest.settings import IngestSettings
from cungdan_projector.settings import ProjectorSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NATS_CONF = ROOT / "deploy" / "nats" / "nats.conf"
PROMETHEUS_CONF = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
REQUIREMENTS_SCRIPT = ROOT / "deploy" / "docker" / "external_requirements.py"

SETTINGS: dict[str, type[BaseSettings]] = {
    "cungdan_ingest": IngestSettings,
    "cungdan_projector": ProjectorSettings,
}
"""Settings class read by each service module a Dockerfile runs."""

ENV_PREFIX = "CUNGDAN_"
REQUIRED_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]+\}")
"""``${VAR:?message}``: compose refuses to start while VAR is unset or empty."""
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(?:^|_)KEY$|CREDENTIAL", re.IGNORECASE)
URL_CREDENTIALS = re.compile(r"://(?P<user>[^:/@\s]+):(?P<password>\$\{[^}]*\}|[^@/]*)@")
HEALTH_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost):(?P<port>\d+)(?P<path>/[^'\"\s]*)")
CUNGDAN_NAME = re.compile(r"\bCUNGDAN_[A-Z0-9_]+\b")


# --- Dockerfile parsing -----------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass
class Dockerfile:
    path: Path
    instructions: list[Instruction]
    env: dict[str, str] = field(default_factory=dict)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def _instructions(text: str) -> list[Instruction]:
    result: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank lines and comments, also inside continuations (as Docker does)
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        result.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    assert not pending, f"dangling line continuation at the end: {pending!r}"
    return result


def _words(args: str) -> list[str]:
    """Exec form (JSON array) or shell form of an instruction's arguments."""
    if args.startswith("["):
        value = json.loads(args)
        assert isinstance(value, list), f"not a JSON array: {args}"
        return [str(v) for v in value]
    return shlex.split(args)


@cache
def dockerfile(rel: str) -> Dockerfile:
    path = ROOT / rel
    parsed = Dockerfile(path, _instructions(path.read_text(encoding="utf-8")))
    for instruction in parsed.all("ENV"):
        words = shlex.split(instruction.args)
        if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
            parsed.env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, sep, value = word.partition("=")
            assert sep, f"{rel}: cannot read ENV {instruction.args!r}"
            parsed.env[key] = value
    return parsed


def copy_sources(df: Dockerfile) -> list[str]:
    sources: list[str] = []
    for instruction in df.all("COPY") + df.all("ADD"):
        words = _words(instruction.args)
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue  # from another stage or image, not from the build context
        paths = [w for w in words if not w.startswith("--")]
        assert len(paths) >= 2, f"{df.rel}: {instruction.keyword} {instruction.args} has no source"
        sources.extend(paths[:-1])
    return sources


def cmd_module(df: Dockerfile) -> str:
    commands = df.all("CMD")
    assert commands, f"{df.rel} has no CMD"
    words = _words(commands[-1].args)
    assert commands[-1].args.startswith("["), (
        f"{df.rel}: CMD should use the exec form (JSON array) so python gets the signals, "
        f"got {commands[-1].args}")
    assert len(words) == 3 and words[0] == "python" and words[1] == "-m", (
        f"{df.rel}: CMD should be ['python', '-m', MODULE], got {words}")
    return words[2]


def healthcheck_command(df: Dockerfile) -> str | None:
    checks = df.all("HEALTHCHECK")
    if not checks or checks[-1].args.upper() == "NONE":
        return None
    _, sep, command = checks[-1].args.partition("CMD ")
    assert sep, f"{df.rel}: HEALTHCHECK without CMD: {checks[-1].args}"
    return command


def exposed_ports(df: Dockerfile) -> list[int]:
    return [int(w.split("/")[0]) for i in df.all("EXPOSE") for w in i.args.split()]


def pip_installed_dirs(df: Dockerfile) -> list[str]:
    """Local directories (``./x``) passed to ``pip install`` in RUN instructions."""
    dirs: list[str] = []
    for instruction in df.all("RUN"):
        for command in re.split(r"&&|;", instruction.args):
            words = shlex.split(command)
            if words[:2] in (["pip", "install"], ["python", "-m"]) and "install" in words:
                assert not {"-e", "--editable"} & set(words), (
                    f"{df.rel}: editable install in the image: {command.strip()}")
                dirs.extend(w.removeprefix("./").rstrip("/") for w in words if w.startswith("./"))
    return dirs


def requirements_script_dirs(df: Dockerfile) -> list[str] | None:
    for instruction in df.all("RUN"):
        for command in re.split(r"&&|;|>", instruction.args):
            words = shlex.split(command)
            if len(words) >= 2 and words[1].endswith(REQUIREMENTS_SCRIPT.name):
                return [w.rstrip("/") for w in words[2:]]
    return None


# --- .dockerignore ----------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore patterns: Go filepath.Match plus ``**``."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@cache
def _dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    path = ROOT / ".dockerignore"
    assert path.is_file(), ".dockerignore is missing: the whole checkout (.venv, .git) would " \
                           "be sent to the image builds"
    rules = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, _pattern_regex(line.removeprefix("!").strip("/"))))
    return rules


def dockerignored(rel: str) -> bool:
    """Whether the path (or a parent directory of it) is left out of the build context."""
    parts = rel.strip("/").split("/")
    ignored = False
    for negated, regex in _dockerignore():
        if any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored


# --- compose ----------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    assert COMPOSE_FILE.is_file(), "docker-compose.yml is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), (
        "docker-compose.yml has no services mapping")
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def built_services() -> dict[str, Dockerfile]:
    built = {}
    for name, svc in services().items():
        if "build" not in svc:
            continue
        build = svc["build"]
        assert isinstance(build, dict), f"service {name}: build should name context and dockerfile"
        context = ROOT / build.get("context", ".")
        dockerfile_path = context / build.get("dockerfile", "Dockerfile")
        if dockerfile_path.is_file():
            built[name] = dockerfile(dockerfile_path.resolve().relative_to(ROOT).as_posix())
    return built


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        return dict(str(e).partition("=")[::2] for e in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def healthcheck_test(svc: dict[str, Any]) -> str | None:
    check = svc.get("healthcheck")
    if not check or check.get("disable"):
        return None
    test = check["test"]
    if isinstance(test, str):
        return test
    assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck test should start with CMD: {test}"
    return " ".join(test[1:])


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    bind: bool


def mounts(svc: dict[str, Any]) -> list[Mount]:
    result = []
    for volume in svc.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
            result.append(Mount(source, target, source.startswith((".", "/", "~"))))
        else:
            result.append(Mount(volume.get("source", ""), volume["target"],
                                volume.get("type") == "bind"))
    return result


@dataclass(frozen=True)
class Published:
    host_ip: str
    host_port: str
    container_port: int


def published_ports(svc: dict[str, Any]) -> list[Published]:
    result = []
    for port in svc.get("ports") or []:
        if isinstance(port, dict):
            result.append(Published(str(port.get("host_ip", "")), str(port.get("published", "")),
                                    int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        host_ip = parts[0] if len(parts) == 3 else ""
        host_port = parts[-2] if len(parts) >= 2 else ""
        result.append(Published(host_ip, host_port, int(parts[-1])))
    return result


def settings_class(name: str, df: Dockerfile) -> type[BaseSettings]:
    module = cmd_module(df)
    assert module in SETTINGS, (
        f"service {name} runs {module}, whose settings class this test does not know: "
        f"add it to SETTINGS")
    return SETTINGS[module]


def settings_names(cls: type[BaseSettings]) -> set[str]:
    return {ENV_PREFIX + f.upper() for f in cls.model_fields}


def _field_ending(cls: type[BaseSettings], suffix: str) -> str:
    fields = [f for f in cls.model_fields if f.endswith(suffix)]
    assert len(fields) == 1, f"{cls.__name__}: expected one *{suffix} field, got {fields}"
    return ENV_PREFIX + fields[0].upper()


def effective_env(name: str) -> dict[str, str]:
    """The CUNGDAN_ variables a built service sees: its image's ENV, then compose's."""
    return built_services()[name].env | environment(services()[name])


def listen_port(name: str) -> int:
    cls = settings_class(name, built_services()[name])
    port_var = _field_ending(cls, "_port")
    value = effective_env(name).get(port_var)
    assert value is not None, f"service {name}: {port_var} is set neither in its Dockerfile " \
                              "nor in compose"
    return int(value)


BUILT = sorted(built_services()) if COMPOSE_FILE.is_file() else []
ALL_SERVICES = sorted(services()) if COMPOSE_FILE.is_file() else []


# --- local projects ---------------------------------------------------------------------


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"unreadable requirement {requirement!r}"
    return _canonical(match.group(1))


@cache
def local_projects() -> dict[str, tuple[str, list[str]]]:
    """Canonical project name -> (directory, dependencies), for the packages an image installs."""
    projects = {}
    for path in [ROOT / "contracts" / "pyproject.toml", *ROOT.glob("services/*/pyproject.toml")]:
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        projects[_canonical(project["name"])] = (
            path.parent.relative_to(ROOT).as_posix(), list(project.get("dependencies", [])))
    return projects


def local_closure(directory: str) -> set[str]:
    """The directories of the local project in ``directory`` and of those it depends on."""
    by_dir = {d: name for name, (d, _) in local_projects().items()}
    todo, seen = [by_dir[directory]], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(r for r in map(_requirement_name, local_projects()[name][1])
                    if r in local_projects())
    return {local_projects()[n][0] for n in seen}


def requirements_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("external_requirements", REQUIREMENTS_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Dockerfiles --------------------------------------------------------------------------


def test_compose_builds_the_services() -> None:
    assert {"ingest", "projector"} <= set(services()), (
        f"docker-compose.yml should define ingest and projector, has {sorted(services())}")
    for name, svc in services().items():
        if "build" not in svc:
            continue
        build = svc["build"]
        assert isinstance(build, dict), f"service {name}: build should name context and dockerfile"
        assert build.get("context") == ".", (
            f"service {name}: build context should be the repository root '.', the Dockerfiles "
            f"COPY contracts/ and services/common/; got {build.get('context')!r}")
        path = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        assert path.is_file(), f"service {name}: build.dockerfile {path} does not exist"


@pytest.mark.parametrize("name", BUILT)
def test_dockerfile_copies_only_existing_files_in_the_build_context(name: str) -> None:
    df = built_services()[name]
    sources = copy_sources(df)
    assert sources, f"{df.rel} copies nothing"
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"{df.rel}: COPY {source}: no such file or directory in the repo"
        assert not dockerignored(source), f"{df.rel}: COPY {source} is excluded by .dockerignore"
        if path.is_dir():
            needed = [p for p in path.rglob("*") if p.is_file() and (
                p.suffix == ".py" or p.name in ("pyproject.toml", "py.typed"))
                and "__pycache__" not in p.parts]
            for file in needed:
                rel = file.relative_to(ROOT).as_posix()
                assert not dockerignored(rel), (
                    f"{df.rel}: COPY {source} would miss {rel}, excluded by .dockerignore")


def test_dockerignore_keeps_secrets_and_local_environments_out() -> None:
    for rel in (".env", ".git", ".venv", "contracts/src/cungdan_contracts.egg-info",
                "services/ingest/src/cungdan_ingest/__pycache__"):
        assert dockerignored(rel), f".dockerignore should exclude {rel} from the build context"


@pytest.mark.parametrize("name", BUILT)
def test_dockerfile_runs_an_importable_module(name: str) -> None:
    df = built_services()[name]
    module = cmd_module(df)
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{df.rel}: CMD runs module {module}, which is not importable"
    assert spec.submodule_search_locations is not None, (
        f"{df.rel}: CMD runs `python -m {module}`; run the package (with its __main__) instead")
    assert importlib.util.find_spec(f"{module}.__main__") is not None, (
        f"{df.rel}: CMD runs `python -m {module}` but {module} has no __main__ module")


@pytest.mark.parametrize("name", BUILT)
def test_dockerfile_installs_the_service_and_its_local_dependencies(name: str) -> None:
    df = built_services()[name]
    service_dir = df.path.parent.relative_to(ROOT).as_posix()
    installed = pip_installed_dirs(df)
    assert service_dir in installed, f"{df.rel} does not pip install ./{service_dir}"
    missing = local_closure(service_dir) - set(installed)
    assert not missing, (
        f"{df.rel}: {service_dir} depends on local projects it does not pip install: "
        f"{sorted(missing)}")
    script_dirs = requirements_script_dirs(df)
    if script_dirs is not None:
        assert sorted(script_dirs) == sorted(installed), (
            f"{df.rel}: the dependency layer covers {script_dirs} but pip installs {installed}; "
            f"they should name the same projects")


def test_requirements_script_leaves_out_local_projects_only() -> None:
    script = requirements_script()
    local = set(local_projects())
    for directory, _ in local_projects().values():
        dirs = sorted(local_closure(directory))
        printed = script.external_requirements([ROOT / d for d in dirs])
        names = {_requirement_name(r) for r in printed}
        expected = {_requirement_name(r) for d, requirements in local_projects().values()
                    if d in dirs for r in requirements} - local
        assert not names & local, f"{REQUIREMENTS_SCRIPT.name} printed local projects " \
                                  f"{sorted(names & local)} for {dirs}"
        assert names == expected, (
            f"{REQUIREMENTS_SCRIPT.name} for {dirs}: printed {sorted(names)}, "
            f"expected {sorted(expected)}")


@pytest.mark.parametrize("name", BUILT)
def test_dockerfile_runs_as_a_non_root_user(name: str) -> None:
    df = built_services()[name]
    users = df.all("USER")
    assert users, f"{df.rel} has no USER: the service would run as root"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0"), f"{df.rel}: the last USER is {user}"


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILT)
def test_cungdan_variables_are_settings_of_the_service(name: str) -> None:
    df = built_services()[name]
    known = settings_names(settings_class(name, df))
    named = {(df.rel, v) for v in CUNGDAN_NAME.findall(df.text)}
    named |= {("docker-compose.yml service " + name, v)
              for v in CUNGDAN_NAME.findall(json.dumps(services()[name]))}
    unknown = sorted((where, v) for where, v in named if v not in known)
    assert not unknown, (
        f"variables unknown to {settings_class(name, df).__name__} (typo, or the wrong "
        f"service?): {unknown}; known: {sorted(known)}")


def test_only_cungdan_services_get_cungdan_variables() -> None:
    """But for the NATS nodes: the passwords their configuration names are CUNGDAN_..."""
    named_by_nats = set(CUNGDAN_NAME.findall(_nats_conf() + NATS_AUTH_CONF.read_text("utf-8")))
    for name, svc in services().items():
        if name not in BUILT:
            found = set(CUNGDAN_NAME.findall(json.dumps(svc)))
            if name in nats_nodes():
                found -= named_by_nats
            assert not found, f"service {name} runs no cungdan code but is given {found}"


@pytest.mark.parametrize("name", BUILT)
def test_service_listens_on_all_interfaces_in_its_container(name: str) -> None:
    host_var = _field_ending(settings_class(name, built_services()[name]), "_host")
    host = effective_env(name).get(host_var)
    assert host == "0.0.0.0", (
        f"service {name}: {host_var} is {host!r}; in a container it must be 0.0.0.0, "
        f"127.0.0.1 is unreachable from the published port and the other containers")


@pytest.mark.parametrize("name", BUILT)
def test_ports_agree(name: str) -> None:
    df = built_services()[name]
    svc = services()[name]
    cls = settings_class(name, df)
    port_var = _field_ending(cls, "_port")
    image_port = df.env.get(port_var)
    assert image_port is not None, f"{df.rel} does not set ENV {port_var}"
    assert exposed_ports(df) == [int(image_port)], (
        f"{df.rel}: EXPOSE {exposed_ports(df)} but ENV {port_var}={image_port}")
    port = listen_port(name)
    image_check = healthcheck_command(df)
    assert image_check is not None, f"{df.rel} has no HEALTHCHECK"
    checked = [int(m["port"]) for m in HEALTH_URL.finditer(image_check)]
    assert checked == [port], (
        f"{df.rel}: HEALTHCHECK requests port(s) {checked}, the service listens on {port}")
    compose_check = healthcheck_test(svc)
    if compose_check is not None:
        checked = [int(m["port"]) for m in HEALTH_URL.finditer(compose_check)]
        assert checked == [port], (
            f"service {name}: compose healthcheck requests port(s) {checked}, "
            f"the service listens on {port}")
    published = published_ports(svc)
    assert published, f"service {name} publishes no port"
    for p in published:
        assert p.container_port == port, (
            f"service {name}: compose publishes container port {p.container_port}, "
            f"the service listens on {port}")


@pytest.mark.parametrize("name", BUILT)
def test_healthchecks_use_the_service_endpoints(name: str) -> None:
    df = built_services()[name]
    image_check = healthcheck_command(df) or ""
    assert [m["path"] for m in HEALTH_URL.finditer(image_check)] == ["/healthz"], (
        f"{df.rel}: HEALTHCHECK should request /healthz, got {image_check}")
    assert "curl" not in image_check and "wget" not in image_check, (
        f"{df.rel}: python:*-slim has neither curl nor wget; use python: {image_check}")
    compose_check = healthcheck_test(services()[name])
    if compose_check is not None:
        paths = [m["path"] for m in HEALTH_URL.finditer(compose_check)]
        assert len(paths) == 1 and paths[0] in ("/healthz", "/readyz"), (
            f"service {name}: compose healthcheck should request /healthz or /readyz, "
            f"got {compose_check}")
        assert compose_check.startswith("python"), (
            f"service {name}: the image has neither curl nor wget; use python: {compose_check}")


# --- compose wiring -----------------------------------------------------------------------


def has_healthcheck(name: str) -> bool:
    if healthcheck_test(services()[name]) is not None:
        return True
    return name in BUILT and healthcheck_command(built_services()[name]) is not None


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_every_service_has_a_healthcheck(name: str) -> None:
    assert has_healthcheck(name), (
        f"service {name} has no healthcheck (in compose nor in its image)")


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_dependencies_wait_for_healthy_services(name: str) -> None:
    depends_on = services()[name].get("depends_on") or {}
    assert isinstance(depends_on, dict), (
        f"service {name}: depends_on should be a mapping with condition: service_healthy, "
        f"got the list {depends_on} (which only waits for the container to start)")
    for dependency, options in depends_on.items():
        assert dependency in ALL_SERVICES, (
            f"service {name} depends on {dependency}, which is not a compose service")
        condition = (options or {}).get("condition")
        assert condition == "service_healthy", (
            f"service {name}: depends_on {dependency} has condition {condition!r}, "
            f"should be service_healthy")
        assert has_healthcheck(dependency), (
            f"service {name} waits for {dependency} to be healthy, but {dependency} has no "
            f"healthcheck")


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_published_ports_are_bound_to_localhost(name: str) -> None:
    for p in published_ports(services()[name]):
        assert p.host_ip == "127.0.0.1", (
            f"service {name} publishes port {p.container_port} on {p.host_ip or 'all interfaces'}"
            f"; bind it to 127.0.0.1")


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_mounts_exist(name: str) -> None:
    declared = set(compose().get("volumes") or {})
    for mount in mounts(services()[name]):
        if mount.bind:
            path = (ROOT / mount.source).resolve()
            assert path.exists(), (
                f"service {name} mounts {mount.source} at {mount.target}: no such file or "
                f"directory in the repo")
            assert path.is_relative_to(ROOT / "deploy"), (
                f"service {name} mounts {mount.source}: configuration belongs under deploy/")
        else:
            assert mount.source in declared, (
                f"service {name} uses volume {mount.source!r}, not declared under the top-level "
                f"volumes (declared: {sorted(declared)})")


def test_declared_volumes_are_used() -> None:
    used = {m.source for svc in services().values() for m in mounts(svc) if not m.bind}
    unused = set(compose().get("volumes") or {}) - used
    assert not unused, f"volumes declared but mounted by no service: {sorted(unused)}"


# --- secrets ------------------------------------------------------------------------------


def test_secrets_are_required_variables_without_defaults() -> None:
    for name, svc in services().items():
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_VAR.fullmatch(value), (
                    f"service {name}: {key} should be '${{VAR:?message}}' (required, no "
                    f"default), not {value!r}")
            for match in URL_CREDENTIALS.finditer(value):
                assert REQUIRED_VAR.fullmatch(match["password"]), (
                    f"service {name}: {key} has a literal or defaulted password in its URL "
                    f"({match['password']!r}); use '${{VAR:?message}}'")
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for match in re.finditer(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>[^}]*)\}", text):
        if SECRET_NAME.search(match["name"]):
            assert match["rest"].startswith(":?"), (
                f"docker-compose.yml: {match[0]} gives the secret {match['name']} a default or "
                f"lets it be empty; use '${{{match['name']}:?message}}'")


def _service_with_image(prefix: str) -> str:
    names = [n for n, s in services().items() if str(s.get("image", "")).startswith(prefix)]
    assert len(names) == 1, f"expected one service running the {prefix} image, got {names}"
    return names[0]


_DATABASE_URL = re.compile(
    r"(?P<scheme>[^:]+)://(?P<user>[^:@]+):(?P<password>\$\{[^}]*\}|[^@]*)@"
    r"(?P<host>[^:/]+):(?P<port>\d+)/(?P<database>[^?]+)")


def test_projector_database_url_matches_postgres() -> None:
    postgres = _service_with_image("postgres")
    pg_env = environment(services()[postgres])
    url = environment(services()["projector"]).get("CUNGDAN_DATABASE_URL", "")
    match = _DATABASE_URL.fullmatch(url)
    assert match, f"projector: CUNGDAN_DATABASE_URL {url!r} is not user:password@host:port/db"
    assert match["scheme"] == "postgresql+psycopg", (
        f"projector: CUNGDAN_DATABASE_URL should use postgresql+psycopg (psycopg 3 is "
        f"installed), got {match['scheme']}")
    assert match["host"] == postgres and match["port"] == "5432", (
        f"projector: CUNGDAN_DATABASE_URL points at {match['host']}:{match['port']}, "
        f"the database is {postgres}:5432")
    assert match["user"] == pg_env.get("POSTGRES_USER", "postgres"), (
        f"projector connects as {match['user']}, {postgres} creates "
        f"{pg_env.get('POSTGRES_USER', 'postgres')}")
    assert match["database"] == pg_env.get("POSTGRES_DB", pg_env.get("POSTGRES_USER")), (
        f"projector uses database {match['database']}, {postgres} creates "
        f"{pg_env.get('POSTGRES_DB')}")
    url_secret = REQUIRED_VAR.fullmatch(match["password"])
    pg_secret = REQUIRED_VAR.fullmatch(pg_env.get("POSTGRES_PASSWORD", ""))
    assert url_secret and pg_secret and url_secret["name"] == pg_secret["name"], (
        f"projector's database password {match['password']!r} and {postgres}'s "
        f"POSTGRES_PASSWORD {pg_env.get('POSTGRES_PASSWORD')!r} should be the same required "
        f"variable")
    assert "-h" in (healthcheck_test(services()[postgres]) or ""), (
        f"{postgres}: pg_isready should check over TCP (-h 127.0.0.1): during initialisation "
        f"the socket-only server would pass it")


# --- NATS ---------------------------------------------------------------------------------

NATS_AUTH_CONF = ROOT / "deploy" / "nats" / "nats-auth.conf"
NATS_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
"""A variable in nats-server's configuration: taken from the server's environment."""
NATS_USER_OF = {"ingest": "ingest", "projector": "projector"}
"""The NATS user (deploy/nats/nats-auth.conf) each built service connects as."""


def _nats_conf() -> str:
    assert NATS_CONF.is_file(), f"{NATS_CONF.relative_to(ROOT)} is missing"
    return NATS_CONF.read_text(encoding="utf-8")


def _without_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _conf_value(text: str, key: str) -> str | None:
    """The first ``key: value`` at the top level of ``text`` (blocks left out)."""
    match = re.search(rf"^\s*{key}\s*[:=]\s*\"?([^\"\s#]+)", _top_level(text), re.MULTILINE)
    return match.group(1) if match else None


def _top_level(text: str) -> str:
    """``text`` without the bodies of its blocks (``name { ... }``)."""
    out, depth = [], 0
    for char in _without_comments(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _block(text: str, name: str) -> str | None:
    """The body of the top-level block ``name { ... }`` (nested blocks included)."""
    text = _without_comments(text)
    match = re.search(rf"^\s*{name}\s*[:=]?\s*\{{", text, re.MULTILINE)
    if match is None:
        return None
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise AssertionError(f"unbalanced braces in block {name}")


def _included(text: str) -> list[str]:
    return re.findall(r"^\s*include\s+\"?([^\"\s]+)", _without_comments(text), re.MULTILINE)


def nats_nodes() -> list[str]:
    return sorted(n for n, s in services().items() if str(s.get("image", "")).startswith("nats:"))


def _command_config(name: str) -> str:
    command = services()[name].get("command") or []
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    assert "-c" in words or "--config" in words, f"service {name}: command passes no -c CONFIG"
    return words[words.index("-c" if "-c" in words else "--config") + 1]


def _required_name(value: str) -> str:
    match = REQUIRED_VAR.fullmatch(value)
    assert match, f"{value!r} is not a required variable '${{VAR:?message}}'"
    return match["name"]


def test_nats_runs_as_a_three_node_cluster() -> None:
    nodes = nats_nodes()
    assert len(nodes) == 3, f"expected three NATS nodes (a JetStream cluster), got {nodes}"
    text = _nats_conf()
    assert _conf_value(text, "port") == "4222", "nats.conf: the client port should be 4222"
    http_port = _conf_value(text, "http_port")
    assert http_port == "8222", "nats.conf: the monitoring port (http_port) should be 8222"
    jetstream = _block(text, "jetstream")
    assert jetstream is not None, "nats.conf: JetStream is not enabled (no jetstream block)"
    store_dir = _conf_value(jetstream, "store_dir")
    assert store_dir, "nats.conf: the jetstream block sets no store_dir"
    cluster = _block(text, "cluster")
    assert cluster is not None, "nats.conf has no cluster block"
    assert _conf_value(cluster, "name"), "nats.conf: the cluster has no name"
    route_port = _conf_value(cluster, "port")
    assert route_port, "nats.conf: the cluster block sets no port"
    authorization = _block(cluster, "authorization")
    assert authorization is not None, (
        "nats.conf: routes need no password (cluster.authorization): anyone on the network "
        "could join as a server and bypass the users' permissions")
    route_user = _conf_value(authorization, "user")
    route_password = _conf_value(authorization, "password") or ""
    assert route_user and route_password.startswith("$"), (
        f"nats.conf: the route password should come from the environment, got "
        f"{route_password!r}")
    assert _conf_value(text, "server_name") == "$NATS_SERVER_NAME", (
        "nats.conf: each node needs its own server_name (NATS_SERVER_NAME)")
    assert _conf_value(cluster, "routes") == "$NATS_ROUTES", (
        "nats.conf: the routes should come from each node's NATS_ROUTES")

    names, volumes = set(), set()
    for node in nodes:
        svc, env = services()[node], environment(services()[node])
        conf_path = _command_config(node)
        bound = {m.target: (ROOT / m.source).resolve() for m in mounts(svc) if m.bind}
        assert bound.get(conf_path) == NATS_CONF, (
            f"service {node} reads {conf_path}, which is not deploy/nats/nats.conf mounted")
        for include in _included(text):
            target = str(Path(conf_path).parent / include).replace("/./", "/")
            assert bound.get(target) == (NATS_CONF.parent / include).resolve(), (
                f"service {node}: nats.conf includes {include}, not mounted at {target}")
        node_volumes = [m for m in mounts(svc) if not m.bind]
        assert any(store_dir == m.target or store_dir.startswith(m.target.rstrip("/") + "/")
                   for m in node_volumes), (
            f"service {node}: JetStream stores in {store_dir}, not on a volume: the stream "
            f"would be lost with the container")
        volumes.update(m.source for m in node_volumes)
        names.add(env.get("NATS_SERVER_NAME"))
        check = healthcheck_test(svc) or ""
        assert [m["port"] for m in HEALTH_URL.finditer(check)] == [http_port], (
            f"service {node}: healthcheck {check!r} should request the monitoring port")
        assert [m["path"] for m in HEALTH_URL.finditer(check)] == ["/healthz"], (
            f"service {node}: the healthcheck should ask the full /healthz (in contact with "
            f"the meta leader, streams current), got {check!r}")
        routes = re.findall(r"nats-route://(?P<user>[^:]+):(?P<pw>\$\{[^}]*\})@"
                            r"(?P<host>[^:/]+):(?P<port>\d+)", env.get("NATS_ROUTES", ""))
        assert sorted(host for _, _, host, _ in routes) == [n for n in nodes if n != node], (
            f"service {node}: NATS_ROUTES should name the other nodes, got {routes}")
        for user, password, host, port in routes:
            assert (user, port) == (route_user, route_port), (
                f"service {node}: route to {host} as {user} on port {port}; the nodes accept "
                f"{route_user} on {route_port}")
            assert _required_name(password) == _required_name(
                env.get(route_password.removeprefix("$"), "")), (
                f"service {node}: its routes present another password than it requires")
    assert names == set(nodes), f"server names should be the node names, got {names}"
    assert len(volumes) == len(nodes), f"each node needs its own volume, got {volumes}"


def test_every_variable_of_the_nats_configuration_is_set() -> None:
    texts = [_nats_conf(), *(
        (NATS_CONF.parent / include).read_text(encoding="utf-8")
        for include in _included(_nats_conf()))]
    unquoted = [re.sub(r'"[^"\n]*"', '""', _without_comments(t)) for t in texts]  # "$JS.API..."
    used = {v for text in unquoted for v in NATS_VARIABLE.findall(text)}
    defined = {k for text in texts for k in re.findall(  # e.g. INGEST = {...}: permissions
        r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]", _without_comments(text), re.MULTILINE)}
    assert used - defined, "nats.conf takes nothing from the environment?"
    for node in nats_nodes():
        env = environment(services()[node])
        missing = used - defined - env.keys()
        assert not missing, f"service {node}: nats-server would refuse to start: {missing} unset"


@pytest.mark.parametrize("name", BUILT)
def test_services_reach_every_nats_node_as_their_own_user(name: str) -> None:
    nodes = nats_nodes()
    client_port = _conf_value(_nats_conf(), "port")
    url = environment(services()[name]).get("CUNGDAN_NATS_URL", "")
    servers = [s.strip() for s in url.split(",")]
    found = [re.fullmatch(r"nats://(?P<user>[^:@]+):(?P<pw>\$\{[^}]*\})@(?P<host>[^:/]+):"
                          r"(?P<port>\d+)", s) for s in servers]
    assert all(found), f"service {name}: CUNGDAN_NATS_URL {url!r} is not nats://user:pw@host:port,..."
    assert sorted(m["host"] for m in found if m) == nodes, (
        f"service {name}: CUNGDAN_NATS_URL names {servers}, the nodes are {nodes}")
    user = NATS_USER_OF[name]
    for node in nodes:
        expected = _required_name(environment(services()[node]).get(
            f"CUNGDAN_NATS_{user.upper()}_PASSWORD", ""))
        for match in found:
            assert match and match["user"] == user and match["port"] == client_port, (
                f"service {name}: connects as {match and match['user']} on port "
                f"{match and match['port']}; should be {user} on {client_port}")
            assert _required_name(match["pw"]) == expected, (
                f"service {name}: its password variable is not the one {node} expects")
    depends_on = services()[name].get("depends_on") or {}
    assert set(nodes) <= set(depends_on), f"service {name} does not wait for every NATS node"


def test_ingest_creates_the_stream_in_as_many_replicas_as_nodes() -> None:
    replicas = effective_env("ingest").get("CUNGDAN_STREAM_REPLICAS")
    assert replicas == str(len(nats_nodes())), (
        f"ingest: CUNGDAN_STREAM_REPLICAS is {replicas!r}, the cluster has {len(nats_nodes())} "
        "nodes")


# --- Prometheus and Grafana ---------------------------------------------------------------


def test_prometheus_scrapes_existing_services() -> None:
    assert PROMETHEUS_CONF.is_file(), f"{PROMETHEUS_CONF.relative_to(ROOT)} is missing"
    config = yaml.safe_load(PROMETHEUS_CONF.read_text(encoding="utf-8"))
    scraped = set()
    for job in config.get("scrape_configs") or []:
        assert job.get("metrics_path", "/metrics") == "/metrics", (
            f"prometheus job {job['job_name']}: the services serve /metrics, not "
            f"{job['metrics_path']}")
        targets = [str(t) for static in job.get("static_configs") or []
                   for t in static.get("targets") or []]
        targets += [f"{name}:{dns['port']}" for dns in job.get("dns_sd_configs") or []
                    for name in dns.get("names") or []]  # every replica of a service
        for target in targets:
            host, _, port = target.rpartition(":")
            assert host in ALL_SERVICES, (
                f"prometheus job {job['job_name']} scrapes {target}: no compose service "
                f"{host}")
            assert host in BUILT, (
                f"prometheus job {job['job_name']} scrapes {target}: {host} serves no "
                f"Prometheus metrics this test knows of")
            assert int(port) == listen_port(host), (
                f"prometheus job {job['job_name']} scrapes {target}, but {host} listens on "
                f"{listen_port(host)}")
            scraped.add(host)
    assert scraped == set(BUILT), (
        f"prometheus scrapes {sorted(scraped)}; the cungdan services are {BUILT}")
    prometheus = _service_with_image("prom/prometheus")
    sources = [(ROOT / m.source).resolve() for m in mounts(services()[prometheus]) if m.bind]
    assert PROMETHEUS_CONF in sources, (
        f"service {prometheus} does not mount {PROMETHEUS_CONF.relative_to(ROOT)}")


def test_grafana_datasource_points_at_prometheus() -> None:
    prometheus = _service_with_image("prom/prometheus")
    ports = {p.container_port for p in published_ports(services()[prometheus])}
    files = sorted(GRAFANA_DATASOURCES.glob("*.y*ml"))
    assert files, f"no datasource provisioned in {GRAFANA_DATASOURCES.relative_to(ROOT)}"
    for path in files:
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]:
            match = re.fullmatch(r"https?://(?P<host>[^:/]+):(?P<port>\d+)/?", source["url"])
            assert match and match["host"] == prometheus and int(match["port"]) in ports, (
                f"{path.relative_to(ROOT)}: datasource {source['name']} url {source['url']} "
                f"is not the {prometheus} service on {sorted(ports)}")
