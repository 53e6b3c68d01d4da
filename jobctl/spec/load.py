"""Load spec files and directories into JobSpecs, collecting every problem in every file at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from stat import S_ISDIR
from typing import TYPE_CHECKING, Any, NamedTuple

from jobctl.errors import MISSING_FILE, Diagnostic, SpecError
from jobctl.secrets import REDACTOR
from jobctl.source import ArtifactError, Rules, check_source
from jobctl.spec.detect import looks_like_spec
from jobctl.spec.document import Document, JsonPath, ParseCache, read_documents, spec_dir
from jobctl.spec.interpolate import Interpolator

if TYPE_CHECKING:
    from jobctl.spec.application import ApplicationSpec
    from jobctl.spec.model import JobSpec
    from jobctl.workflow.model import Workflow

SPEC_SUFFIXES = (".yaml", ".yml")  # matched without regard to case
# Directories a walk never enters: version control's, environments' and tools' caches (hidden, so skipped anyway).
NEVER_WALKED = frozenset({".git", ".hg", ".svn", ".venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
                          ".ruff_cache"})
NO_SPEC = "neither jobctl/v1 nor ADS job YAML"
HIDDEN = "hidden (jobctl skips hidden files and directories)"


class Skipped(NamedTuple):
    """A YAML file in a directory given that jobctl did not read, and why (NO_SPEC or HIDDEN)."""

    path: Path
    shown: str
    why: str


class LoadResult(NamedTuple):
    """What loading specs found. A NamedTuple, not a dataclass: `validate` builds nothing else that is one, and
    creating a dataclass costs ~1 ms of its start-up (issue 18)."""

    jobs: tuple[JobSpec, ...]
    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...]
    names: tuple[str, ...] = ()  # every job (and application) named, also when specs were not built
    workflows: tuple[Workflow, ...] = ()
    applications: tuple[ApplicationSpec, ...] = ()  # kind: DataFlowApplication
    skipped: tuple[Skipped, ...] = ()  # YAML files in the directories given that are no specs, or hidden
    dangling: tuple[tuple[str, str], ...] = ()  # symbolic links to nothing in those directories, and their targets

    @property
    def warnings(self) -> tuple[str, ...]:
        """What was skipped that may have been meant as a spec: a directory's symbolic links to nothing."""
        return tuple(f"skipped {link}: a symbolic link to {target}, which is not there"
                     for link, target in self.dangling)

    @property
    def skipped_notes(self) -> tuple[str, ...]:
        """Each YAML file skipped, and why, as -v says them (validate, plan and apply alike)."""
        return tuple(f"skipped {skipped.shown}: {skipped.why}" for skipped in self.skipped)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def raise_for_errors(self) -> None:
        if self.diagnostics:
            raise SpecError(self.diagnostics, hint="run `jobctl validate` on these files for details")


def expand_paths(paths: Iterable[str]) -> tuple[list[tuple[Path, str]], list[Diagnostic], list[Skipped],
                                               list[tuple[str, str]]]:
    """Files as given, and every *.yaml/*.yml (any case) below a directory that looks like a spec (sorted), each
    with its name as shown; the directories' YAML files skipped (no spec, or hidden), each with why; and their
    symbolic links to nothing (shown, with their target), which are skipped but said."""
    found: list[tuple[Path, str]] = []
    problems: list[Diagnostic] = []
    skipped: list[Skipped] = []
    dangling: list[tuple[str, str]] = []
    for given in paths:
        path, shown = Path(given), shown_path(given)
        try:
            is_dir = S_ISDIR(os.stat(path).st_mode)
        except OSError as exc:
            problems.append(Diagnostic(shortened(shown), 1, 1, "<file>", _unusable(path, exc)))
            continue
        if not is_dir:
            found.append((path, shown))
            continue
        try:
            candidates, hidden = _yaml_below(path)
        except OSError as exc:  # a path below it that the system cannot take (too long), or a directory it cannot read
            below = Path(exc.filename) if exc.filename else path
            problems.append(Diagnostic(shortened(shown_path(str(below))), 1, 1, "<file>", _unusable(below, exc)))
            continue
        files: list[Path] = []
        links: list[tuple[str, str]] = []
        for candidate in candidates:
            if candidate.is_file():
                files.append(candidate)
            elif candidate.is_symlink() and not candidate.exists():
                links.append((shown_path(str(candidate)), _target(candidate)))
        matches: list[Path] = []
        for candidate in files:  # one pass: `not in matches` was quadratic (1,000 files: 500,000 __eq__)
            if looks_like_spec(candidate):
                matches.append(candidate)
            else:
                skipped.append(Skipped(candidate, shown_path(str(candidate)), NO_SPEC))
        skipped += [Skipped(p, shown_path(str(p)), HIDDEN) for p in hidden if p.is_file()]
        if not files:
            problems.append(Diagnostic(shown, 1, 1, "<file>", "directory holds no *.yaml or *.yml files"
                                       + (" but symbolic links to nothing" if links else "")
                                       + (" but hidden ones, which are skipped" if hidden and not links else "")))
        elif not matches:
            problems.append(Diagnostic(shown, 1, 1, "<file>", f"directory holds no jobctl spec: its "
                                       f"{len(files)} YAML file(s) are neither jobctl/v1 nor ADS job YAML"))
        found.extend((p, shown_path(str(p))) for p in matches)
        dangling += links
    return _once(found), problems, skipped, dangling


def _yaml_below(directory: Path) -> tuple[list[Path], list[Path]]:
    """The *.yaml/*.yml files below a directory, without regard to case (b.YAML is a spec file too), sorted: those
    jobctl reads, and those it skips as hidden (a hidden file, or one in a hidden directory, as git and ls hide
    them), which are said, since `--prune` must not delete the job of a spec there. Tools' directories
    (NEVER_WALKED) are not entered at all: they hold no specs, and may hold thousands of files."""

    def fail(error: OSError) -> None:
        raise error

    visible: list[Path] = []
    hidden: list[Path] = []
    for parent, directories, names in os.walk(directory, onerror=fail):
        directories[:] = [name for name in directories if name not in NEVER_WALKED]
        inside = Path(parent).relative_to(directory).parts
        in_hidden = any(part.startswith(".") for part in inside)
        for name in names:
            if name.lower().endswith(SPEC_SUFFIXES):
                (hidden if in_hidden or name.startswith(".") else visible).append(Path(parent, name))
    return sorted(visible), sorted(hidden)


def _unusable(path: Path, error: OSError) -> str:
    """Why a path given is neither a file nor a directory, from the error that said so."""
    import errno

    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return MISSING_FILE + (f" (a symbolic link to {_target(path)}, which is not there)"
                               if os.path.islink(path) else "")
    if error.errno == errno.ENAMETOOLONG:
        return _too_long(path)
    return f"cannot read: {error.strerror or error}"


def _target(link: Path) -> str:
    """What a symbolic link points at, as shown."""
    try:
        return shown_path(os.readlink(link))
    except OSError as exc:
        return f"<unreadable: {exc.strerror}>"


def _too_long(path: Path) -> str:
    """Why the system refused a path as too long: the path, or a name in it, over the system's limit."""
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    name_max = _limit("PC_NAME_MAX", 255)
    if longest > name_max:
        return f"file name too long: a name in the path is {longest} bytes; this system allows {name_max}"
    path_max = _limit("PC_PATH_MAX", 4096)
    return f"file name too long: the path is {len(os.fsencode(path))} bytes; this system allows {path_max}"


def _limit(name: str, default: int) -> int:
    try:
        return os.pathconf("/", name)
    except (OSError, ValueError):
        return default


SHOWN_PATH_MAX = 200  # characters of a path shown in an error about the path itself (its length)


def shortened(shown: str) -> str:
    """A path shown whole up to SHOWN_PATH_MAX characters, else its start and end around the count left out."""
    if len(shown) <= SHOWN_PATH_MAX:
        return shown
    keep = SHOWN_PATH_MAX // 2 - 20
    return f"{shown[:keep]}[...{len(shown) - 2 * keep} characters...]{shown[-keep:]}"


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", '"': '\\"'}


def shown_path(given: str) -> str:
    """A spec path as every message and output shows it: as given, unless it holds what would make a line of
    text or JSON ambiguous or invalid (a newline or other control character, a byte that is not UTF-8 — which
    the path holds as a surrogate escape —, a quote or a backslash); then in double quotes with such characters
    escaped, as `ls --quoting-style=c` does: `"bad\\nname.yaml"`, `"caf\\xe9.yaml"` (the byte 0xe9)."""
    if given.isprintable() and '"' not in given and "\\" not in given:
        return given
    return '"' + "".join(_escaped(c) for c in given) + '"'


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if "\udc80" <= char <= "\udcff":  # a byte os.fsdecode could not decode
        return f"\\x{ord(char) - 0xDC00:02x}"
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _once(found: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Each file once: `validate specs specs/a.yaml` read a.yaml twice and called its job a duplicate of itself.
    A file and a symbolic link to it are one spec, named by the file (a walk kept the link, first in sort order,
    and dropped the real file); else as first named."""
    chosen: dict[object, int] = {}
    for index, (path, _) in enumerate(found):
        try:
            stat = os.stat(path)
        except OSError:  # (reading it says why)
            chosen[index] = index
            continue
        key = (stat.st_dev, stat.st_ino)
        if key not in chosen or (os.path.islink(found[chosen[key]][0]) and not os.path.islink(path)):
            chosen[key] = index
    return [found[index] for index in sorted(chosen.values())]


def load_specs(
    paths: Iterable[str], environ: Mapping[str, str] | None = None, *, build: bool = True,
    external_jobs: Callable[[str], Collection[str] | None] | None = None, workflow_env: Collection[str] | None = None,
    pipelines: bool = True, engine: str | None = None,
) -> LoadResult:
    """Read, interpolate, schema-validate and check every document under `paths`.

    `build=False` (validate) checks everything but skips building JobSpecs. Workflow steps must name
    jobs defined in the files given, or that `external_jobs` finds (the backend's: a job's env names, or
    None); `workflow_env`: the names `workflow run --env` gives, which ${{ env.X }} must be among; `pipelines`:
    the backend runs the pipeline engine (OCI); `engine`: the one `workflow run --engine` chose.
    """
    env = os.environ if environ is None else environ
    files, problems, skipped, dangling = expand_paths(paths)
    jobs: list[JobSpec] = []
    names: list[str] = []
    job_env: dict[str, set[str]] = {}  # the env names of each job in the files, for workflow expressions
    first_seen: dict[str, tuple[str, int]] = {}
    workflows: list[tuple[Document, Workflow]] = []
    applications: list[ApplicationSpec] = []
    sources: dict[tuple[Path, str], str | None] = {}  # each source's artifact-rule check, once (see _check_source)
    with ParseCache.from_environment() as cache:  # written once, after the last file
        for path, shown in files:
            base_dir = spec_dir(path)
            interpolator = Interpolator(env, shown)
            documents, file_problems = read_documents(path, shown, interpolator, cache)
            problems.extend(file_problems)
            if any(d.data.get("kind") == "job" for d in documents):  # ADS job YAML
                documents, ads_problems = _ads_translated(path, shown, documents, interpolator, cache)
                problems.extend(ads_problems)
            problems.extend(interpolator.diagnostics)
            for document in documents:
                REDACTOR.remember_document(document.data)  # before any message can quote a value
                failed = {d.path for d in interpolator.diagnostics}
                schema_problems = _schema_problems(document, failed, cache)
                if failed and not schema_problems:
                    continue
                if schema_problems:
                    problems.extend(schema_problems + _beyond_schema(document, base_dir, schema_problems, sources))
                    continue
                name = document.data["metadata"]["name"]
                line = document.position(("metadata", "name"))[0]
                if document.data["kind"] in ("Job", "DataFlowApplication"):
                    _keep_as_written(document, interpolator.written)
                if document.data["kind"] == "Workflow":
                    problems.extend(_add_workflow(workflows, document, shown, line))
                    continue
                problems.extend(_claim(first_seen, document, name, shown, line))
                names.append(name)
                problems.extend(_secret_tags(document))
                if document.data["kind"] == "DataFlowApplication":
                    problems.extend(_add_application(applications, document, base_dir, (shown, line)))
                    job_env[name] = driver_env_names(document.data["spec"].get("configuration") or {})
                    continue
                entrypoint, source_problems = _check_source(document, base_dir, sources)
                problems += [*source_problems, *_colliding_mounts(document), *node_group_problems(document)]
                job_env[name] = _env_names(document.data["spec"])
                if build and not source_problems:
                    jobs.append(_build(document, base_dir, shown, line, entrypoint))
    if workflows:
        from jobctl.workflow.check import check_workflow

        for document, workflow in workflows:
            problems.extend(check_workflow(document, workflow, job_env, lookup=external_jobs, env=workflow_env,
                                           applications=[a.name for a in applications], pipelines=pipelines,
                                           engine=engine))
    return LoadResult(tuple(jobs), tuple(sorted(set(problems))), tuple(shown for _, shown in files), tuple(names),
                      tuple(w for _, w in workflows), tuple(applications), tuple(skipped), tuple(dangling))


def _schema_problems(document: Document, failed: set[str], cache: ParseCache) -> list[Diagnostic]:
    """The document's schema problems but at the fields whose ${VAR} failed (said already); none, without
    loading the validator, for a document the parse cache knows passes it (it has no ${VAR})."""
    if document.checked:
        return []
    from jobctl.spec.schema import validate_document

    found = validate_document(document)
    if not found and not document.sites:
        cache.checked(document)
    return [d for d in found if d.path not in failed]


def _claim(first_seen: dict[str, tuple[str, int]], document: Document, name: str, shown: str,
           line: int) -> list[Diagnostic]:
    """A job's or application's name, unique among both (`jobctl run NAME` means one of them)."""
    if name in first_seen:
        other_file, other_line = first_seen[name]
        what = "job" if document.data["kind"] == "Job" else "application"
        return [document.diagnostic(("metadata", "name"), f"{what} name {name!r} is also defined at "
                                                          f"{other_file}:{other_line}")]
    first_seen[name] = (shown, line)
    return []


def _beyond_schema(document: Document, base_dir: Path, schema_problems: list[Diagnostic],
                   sources: dict[tuple[Path, str], str | None]) -> list[Diagnostic]:
    """A document's other problems, said with its schema's at once (on other fields than those): an
    application's; a job's secret labels and missing source, where the schema found its part sound (red team,
    session 14: one wrong type hid them until it was mended)."""
    said = {d.path for d in schema_problems}
    kind = document.data.get("kind")
    if kind == "DataFlowApplication":
        from jobctl.spec.application import application_problems

        return [d for d in application_problems(document, base_dir) if d.path not in said]
    if kind != "Job":
        return []

    def sound(part: str) -> bool:
        return not any(path == part or path.startswith((f"{part}.", f"{part}[")) for path in said)

    found = _secret_tags(document) if sound("metadata") and isinstance(document.data.get("metadata"), dict) else []
    runtime = (document.data.get("spec") or {}).get("runtime") if isinstance(document.data.get("spec"), dict) else None
    if sound("spec.runtime") and not said & {"spec", "<document>"} and isinstance(runtime, dict) and "type" in runtime:
        found += _check_source(document, base_dir, sources)[1]
    return found


def _add_application(applications: list[ApplicationSpec], document: Document, base_dir: Path,
                     where: tuple[str, int]) -> list[Diagnostic]:
    """Check a DataFlowApplication document, and build its spec into `applications` (cheap: no artifact)."""
    from jobctl.spec import application

    found = application.application_problems(document, base_dir)
    if not found:
        applications.append(application.build_application(document, base_dir, *where))
    return found


def driver_env_names(configuration: Mapping[str, Any]) -> set[str]:
    """The env names a Data Flow application's runs have from its Spark configuration (spark.driverEnv.*)."""
    from jobctl.model.application import DRIVER_ENV

    return {key.removeprefix(DRIVER_ENV) for key in configuration if key.startswith(DRIVER_ENV)}


def _env_names(spec: Mapping[str, Any]) -> set[str]:
    """The env names a job's runs have from its spec: the runtime's, and each node group's."""
    groups = [spec.get("runtime") or {}, *((spec.get("nodes") or {}).get("groups") or [])]
    return {name for part in groups for name in (part.get("env") or {})}


def _ads_translated(path: Path, shown: str, documents: list[Document], interpolator: Interpolator,
                    cache: ParseCache) -> tuple[list[Document], list[Diagnostic]]:
    """A file's ADS job documents as the jobctl/v1 ones they mean (the translator imported only when seen)."""
    from jobctl.spec.ads import translate_ads_documents

    return translate_ads_documents(_ads_as_written(path, shown, documents, interpolator, cache),
                                   interpolator.diagnostics)


def _ads_as_written(path: Path, shown: str, documents: list[Document], interpolator: Interpolator,
                    cache: ParseCache) -> list[Document]:
    """ADS documents as written: ADS has its own `$` rules (its env entries, its name; docs/ads.md), so
    jobctl's `${VAR}` interpolation, and its problems, apply only to the file's jobctl/v1 documents."""
    from jobctl.spec.ads import is_ads_document

    raw, _ = read_documents(path, shown, cache=cache)
    if len(raw) != len(documents):
        return documents
    ads = [is_ads_document(d.data) for d in raw]
    starts = [d.start[0] for d in raw]

    def in_ads_document(line: int) -> bool:
        index = max((i for i, start in enumerate(starts) if start <= line), default=0)
        return ads[index]

    interpolator.diagnostics = [d for d in interpolator.diagnostics if not in_ads_document(d.line)]
    return [raw[i] if ads[i] else document for i, document in enumerate(documents)]


def _keep_as_written(document: Document, interpolated: Mapping[JsonPath, str]) -> None:
    """Env values and args (a Data Flow application's arguments, parameters and configuration) are text: an
    unquoted `01234`, `1.10`, `no`, `0x1F` or `1_000` reaches the workload as written, not as the number or
    boolean YAML 1.1 reads (668, 1.1, false, 31, 1000)."""
    spec = document.data["spec"]
    if document.data["kind"] == "DataFlowApplication":
        holders: list[tuple[JsonPath, Any]] = [(("spec",), spec)]
        names: tuple[str, ...] = ("arguments", "parameters", "configuration")
    else:
        holders = [(("spec", "runtime"), spec["runtime"])]
        holders += [(("spec", "nodes", "groups", index), group)
                    for index, group in enumerate((spec.get("nodes") or {}).get("groups", []))]
        names = ("env", "args")
    for at, holder in holders:
        for name in names:
            container = holder.get(name)
            for key in (container if isinstance(container, dict) else range(len(container or []))):
                path = (*at, name, key)
                text = document.written.get(path, interpolated.get(path))
                if text is not None and not isinstance(container[key], str):
                    container[key] = text


def node_group_problems(document: Document) -> list[Diagnostic]:
    """What the schema cannot say of node groups: unique names, a reachable minimum, and the shape
    each group ends up with sized as its kind needs (Flex: ocpus and memoryInGBs; fixed: neither).
    Groups the schema rejects are left to its messages."""
    spec = document.data["spec"]
    problems = []
    names: dict[str, int] = {}
    for index, group in enumerate((spec.get("nodes") or {}).get("groups", [])):
        if not isinstance(group, dict) or not isinstance(group.get("name"), str) or not all(
                isinstance(group.get(key, 1), int) for key in ("replicas", "minimumSuccessReplicas")):
            continue
        at: JsonPath = ("spec", "nodes", "groups", index)
        if group["name"] in names:
            problems.append(document.diagnostic((*at, "name"), f"groups[{names[group['name']]}] has this name "
                                                               f"({group['name']!r}) too; give each group its own"))
        names.setdefault(group["name"], index)
        if group.get("minimumSuccessReplicas", 0) > group.get("replicas", 1):
            problems.append(document.diagnostic((*at, "minimumSuccessReplicas"),
                                                f"is more than the group's {group.get('replicas', 1)} replicas"))
        infrastructure = group.get("infrastructure")
        given: dict[str, Any] = infrastructure if isinstance(infrastructure, dict) else {}
        job_infrastructure = spec.get("infrastructure") if isinstance(spec.get("infrastructure"), dict) else {}
        shape = given.get("shape", job_infrastructure.get("shape"))
        if not isinstance(shape, str):  # the schema says what is wrong with it
            continue
        sized = given if "shape" in given else {**job_infrastructure, **given}
        flex = shape.endswith(".Flex")
        for key in ("ocpus", "memoryInGBs"):
            if flex and key not in sized:
                problems.append(document.diagnostic((*at, "infrastructure") if given else at,
                                                    f"the Flex shape {shape} needs {key}"))
        for key in ("ocpus", "memoryInGBs", "cpuBaseline"):
            if not flex and key in given:
                problems.append(document.diagnostic((*at, "infrastructure", key),
                                                    f"{key} is only for Flex shapes; the group's shape is {shape}"))
    return problems


def _secret_tags(document: Document) -> list[Diagnostic]:
    """Labels and defined tags become OCI tags, which anyone who can read the job sees: no secret in them."""
    metadata = document.data["metadata"]
    places: list[tuple[JsonPath, str, Any]] = [(("metadata", "labels", key), key, value)
                                                for key, value in (metadata.get("labels") or {}).items()]
    places += [(("metadata", "definedTags", space, key), key, value)
               for space, tags in (metadata.get("definedTags") or {}).items() for key, value in tags.items()]
    named = [document.diagnostic(("metadata", field), f"a job's {what} cannot hold a secret value (it is the job's "
                                 "OCI display name and a tag, readable by anyone who can read the job)")
             for field, what in (("displayName", "display name"), ("name", "name"))
             if isinstance(metadata.get(field), str) and REDACTOR.contains_secret(metadata[field])]
    named = list({(d.line, d.column): d for d in reversed(named)}.values())  # an ADS name is both: one error
    return named + [
        document.diagnostic(path, f"a {'label' if path[1] == 'labels' else 'defined tag'} cannot hold a secret value "
                            "(OCI tags are readable by anyone who can read the job); pass it in a secret env var",
                            at_key=REDACTOR.contains_secret(key))
        for path, key, value in places
        if REDACTOR.contains_secret(key) or (isinstance(value, str) and REDACTOR.contains_secret(value))
    ]


def _colliding_mounts(document: Document) -> list[Diagnostic]:
    """Two storage mounts must not share a directory, nor the $JOBCTL_MOUNT_<NAME> that names it."""
    from jobctl.model.mounts import DEFAULT_MOUNT_PATH, mount_variable

    seen: dict[Any, int] = {}
    problems = []
    for index, mount in enumerate(document.data["spec"].get("storageMounts") or []):
        where = (mount.get("destinationPath", DEFAULT_MOUNT_PATH).rstrip("/"), mount["destinationDirectoryName"])
        for key, what in ((where, f"the directory {where[0]}/{where[1]}"), (mount_variable(mount), None)):
            if key in seen:
                said = what or f"the variable ${key}"
                problems.append(document.diagnostic(
                    ("spec", "storageMounts", index, "destinationDirectoryName"),
                    f"storage mounts {seen[key] + 1} and {index + 1} would share {said}; give them other names"))
                break
            seen[key] = index
    return problems


def _add_workflow(
    workflows: list[tuple[Document, Workflow]], document: Document, shown: str, line: int,
) -> list[Diagnostic]:
    from jobctl.spec.model import Origin
    from jobctl.workflow.model import workflow_from_document

    workflow = workflow_from_document(document.data, Origin(shown, line))
    for _, other in workflows:
        if other.name == workflow.name:
            assert other.origin is not None
            return [document.diagnostic(("metadata", "name"), f"workflow name {workflow.name!r} is also defined at "
                                                              f"{other.origin.file}:{other.origin.line}")]
    workflows.append((document, workflow))
    return []


def _build(document: Document, base_dir: Path, shown: str, line: int, entrypoint: str | None) -> JobSpec:
    from jobctl.spec.model import Origin, job_from_document

    spec = job_from_document(document.data, base_dir, Origin(shown, line), entrypoint)
    sites = {  # what the oci backend looks up (a mount target by IP, an export by path), for its errors
        f"spec.storageMounts[{index}].{key}": document.diagnostic(("spec", "storageMounts", index, key), "")
        for index, mount in enumerate(document.data["spec"].get("storageMounts") or [])
        for key in ("mountTargetIp", "exportPath", "mountTargetId") if key in mount}
    return spec.replace(sites=sites)


def _source_problem(base_dir: Path, given: str) -> str | None:
    """What the artifact rules, as plan applies them, refuse in a source (symlinks, credentials, size and count,
    names), as a message; None when nothing."""
    try:
        check_source(base_dir / given, base_dir)
    except ArtifactError as exc:
        return exc.message
    except OSError as exc:
        return f"source {given!r} cannot be read: {exc.strerror or exc}"
    return None


def _check_source(document: Document, base_dir: Path,
                  sources: dict[tuple[Path, str], str | None]) -> tuple[str | None, list[Diagnostic]]:
    """What the schema cannot know: that source and entrypoint exist where the spec says.

    Returns the entrypoint implied by a single-file source (its name), and the problems found. `sources` holds
    what the artifact rules said of each source already checked by this load: many specs of a directory
    often share one source, and the check walks and resolves paths (a cold `validate` of 2,000 specs spent a
    sixth of its time checking ten files again and again).
    """
    runtime = document.data["spec"]["runtime"]
    given = runtime.get("source")
    if given is None:
        return None, []
    declared = runtime.get("entrypoint") if isinstance(runtime.get("entrypoint"), str) else None
    is_container = runtime["type"] == "container"
    source_path = ("spec", "runtime", "source")
    entry_path = ("spec", "runtime", "entrypoint")
    try:
        source = (base_dir / given).resolve(strict=True)
    except FileNotFoundError:
        where = shown_path(str(base_dir / given))
        return None, [document.diagnostic(source_path, f"source {given!r} does not exist ({where})")]
    except (OSError, RuntimeError) as exc:
        return None, [document.diagnostic(source_path, f"source {given!r} cannot be resolved: {exc}")]
    if (base_dir, given) not in sources:
        sources[base_dir, given] = _source_problem(base_dir, given)
    problem = sources[base_dir, given]
    if problem is not None:
        return None, [document.diagnostic(source_path, problem)]
    if source.is_file():
        suffix = {"python": ".py", "shell": ".sh", "notebook": ".ipynb"}.get(runtime["type"])
        if suffix and not source.name.endswith(suffix):
            message = (f"a {runtime['type']} runtime's single-file source must be a {suffix} file "
                       f"(OCI runs such an artifact by its extension); {source.name!r} is not")
            return None, [document.diagnostic(source_path, message)]
        if declared not in (None, source.name):
            message = f"source is the single file {source.name!r}; entrypoint must be that file or be omitted"
            return None, [document.diagnostic(entry_path, message)]
        if runtime.get("workingDir") not in (None, ".", "./"):
            return None, [document.diagnostic(("spec", "runtime", "workingDir"),
                                              "a single-file source has no other directory: workingDir must be '.'")]
        return (None if is_container else source.name), []
    if not source.is_dir():
        return None, [document.diagnostic(source_path, f"source {given!r} is neither a file nor a directory")]
    if declared is None:
        if is_container or runtime.get("command"):  # a command needs no entry file
            return None, []
        return None, [document.diagnostic(
            ("spec", "runtime"), "entrypoint is required when source is a directory", at_key=True,
        )]
    entry = (source / declared).resolve()
    if not entry.is_relative_to(source):
        return None, [document.diagnostic(entry_path, f"entrypoint {declared!r} points outside source")]
    if not entry.is_file():
        return None, [document.diagnostic(entry_path, f"entrypoint {declared!r} not found in source {given!r}")]
    if Rules(source).excluded(entry.relative_to(source).as_posix()):
        return None, [document.diagnostic(entry_path, f"entrypoint {declared!r} is left out of the artifact "
                                                      f"(by .jobctlignore, or as a key or credential file)")]
    working = runtime.get("workingDir")
    if working is not None and not (source / working).resolve().is_dir():
        return None, [document.diagnostic(("spec", "runtime", "workingDir"),
                                          f"workingDir {working!r} is not a directory in source {given!r}")]
    return None, []
