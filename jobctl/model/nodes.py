"""Node groups of a multi-node job: what each group runs with, and one canonical way to write it.

A spec gives the job's infrastructure, env and args once, and each node group only what differs
(`infrastructure`, `env` added to the job's, `args` instead of the job's). OCI keeps no job-level
values for a multi-node job: every group carries its own. Both sides are brought to one canonical
form, so that a job read back from OCI compares equal to the spec that made it:

- the job-level values are the first group's;
- a group names a shape (with its size) only when its shape or size differs from the first group's,
  and its block volume only when that differs;
- env entries every group has with the same value are the job's; the others stay with their group;
- a group has `args` only when its arguments differ from the first group's;
- `minimumSuccessReplicas` is left out when it is every replica (what OCI means when it is absent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SIZE_KEYS = ("ocpus", "memoryInGBs", "cpuBaseline")  # given with a shape, or alone to resize the job's
SHAPE_KEYS = ("shape", *SIZE_KEYS)
DISK_KEY = "blockStorageSizeInGBs"
INFRA_KEYS = (*SHAPE_KEYS, DISK_KEY)
IN_PARALLEL, IN_ORDER = "IN_PARALLEL", "IN_ORDER"
DEFAULT_REPLICAS = 1
GROUP_VARIABLE = "JOBCTL_NODE_GROUP"  # each group's name, in its runs (jobctl sets it, locally and on OCI)
# What OCI gives each node (docs/multi-node.md): NODE_RANK is documented; the other two are what ADS reads
RANK_VARIABLE, SIZE_VARIABLE, METADATA_VARIABLE = "NODE_RANK", "INITIAL_CLUSTER_SIZE", "CLUSTER_NODES_METADATA_FILE"


def _number(value: Any) -> Any:
    """2.0 as 2: OCI returns whole numbers as floats, specs write them as written."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def effective(infrastructure: Mapping[str, Any], env: Mapping[str, str], args: Sequence[str],
              group: Mapping[str, Any]) -> dict[str, Any]:
    """What one group runs with: name, replicas, minimumSuccessReplicas (None: all), infrastructure
    (every INFRA_KEYS value), env and args."""
    given = group.get("infrastructure") or {}
    infra = {key: _number(infrastructure.get(key)) for key in INFRA_KEYS}
    if "shape" in given:  # another shape comes with its own size, none inherited
        infra.update({key: _number(given.get(key)) for key in SHAPE_KEYS})
    else:
        infra.update({key: _number(given[key]) for key in SIZE_KEYS if key in given})
    if DISK_KEY in given:
        infra[DISK_KEY] = given[DISK_KEY]
    return {
        "name": group["name"],
        "replicas": int(group.get("replicas") or DEFAULT_REPLICAS),
        "minimumSuccessReplicas": group.get("minimumSuccessReplicas"),
        "infrastructure": infra,
        "env": {**env, **(group.get("env") or {})},
        "args": list(group["args"]) if "args" in group else list(args),
    }


def canonical(infrastructure: Mapping[str, Any], env: Mapping[str, str], args: Sequence[str],
              groups: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, str], list[str],
                                                             tuple[dict[str, Any], ...]]:
    """(job infrastructure, job env, job args, groups) in the canonical form; see the module's doc."""
    if not groups:
        return dict(infrastructure), dict(env), list(args), ()
    each = [effective(infrastructure, env, args, group) for group in groups]
    first = each[0]
    shared = {key: value for key, value in first["env"].items() if all(e["env"].get(key) == value for e in each)}
    out = []
    for group in each:
        item: dict[str, Any] = {"name": group["name"], "replicas": group["replicas"]}
        if group["minimumSuccessReplicas"] not in (None, group["replicas"]):
            item["minimumSuccessReplicas"] = group["minimumSuccessReplicas"]
        infra, base = group["infrastructure"], first["infrastructure"]
        own: dict[str, Any] = {}
        if any(infra[key] != base[key] for key in SHAPE_KEYS):
            own.update({key: infra[key] for key in SHAPE_KEYS if infra[key] is not None})
        if infra[DISK_KEY] != base[DISK_KEY]:
            own[DISK_KEY] = infra[DISK_KEY]
        if own:
            item["infrastructure"] = own
        own_env = {key: value for key, value in group["env"].items() if key not in shared}
        if own_env:
            item["env"] = own_env
        if group["args"] != first["args"]:
            item["args"] = group["args"]
        out.append(item)
    return dict(first["infrastructure"]), shared, first["args"], tuple(out)


def for_run(group: Mapping[str, Any], job_args: Sequence[str], run_env: Mapping[str, str],
            run_args: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """A group's env and args in a run given the run's env (the job's with the run's changes) and args
    (the run's, or the job's when it gives none): env changes apply to every group; args given to the
    run replace every group's, and a group with args of its own keeps them otherwise."""
    args = list(group["args"]) if list(run_args) == list(job_args) else list(run_args)
    return {**group["env"], **run_env}, args


def replica_count(groups: Sequence[Mapping[str, Any]]) -> int:
    return sum(int(group.get("replicas") or DEFAULT_REPLICAS) for group in groups)
