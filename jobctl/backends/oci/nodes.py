"""Multi-node jobs on OCI: the job's values moved into its node groups, and back.

OCI keeps no job-level infrastructure, configuration or container for a multi-node job: each node group
carries its own (as ADS and OCI's Terraform provider send them, docs/oci-fidelity.md). jobctl builds the
single-node values from the table as for any job, then moves them into each group with the group's
changes; reading back, it puts the first group's values at the job level (jobctl.model.nodes then
writes the groups canonically). The subnet becomes the node network (CUSTOM_NETWORK, else
DEFAULT_NETWORK) and the maximum runtime the node configuration's.
"""

from __future__ import annotations

import copy
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from jobctl.model.job import MULTI_NODE, OCI_CONFIG, OCI_ENV, OCI_INFRA, JobDefinition, node_infra_rows
from jobctl.model.nodes import GROUP_VARIABLE, for_run
from jobctl.model.table import branch

NODES = "job_node_configuration_details"
# each infrastructure key of a node group -> its SDK path inside the group's infrastructure, from the table
_PATHS = {key: tuple(str(row.oci).removeprefix(f"{OCI_INFRA}.").split(".")) for key, row in node_infra_rows().items()}


def _group_infrastructure(infra: Mapping[str, Any], reservation: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {"job_infrastructure_type": MULTI_NODE,
                              "capacity_reservation_ids": [reservation] if reservation else None}
    for key, (*parents, leaf) in _PATHS.items():
        branch(values, parents)[leaf] = infra[key]
    return values


def _sdk_value(model: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        model = getattr(model, part, None)
    return model


def _group_configuration(config: Mapping[str, Any], env: Mapping[str, str], args: Sequence[str]) -> dict[str, Any]:
    return {**config, "environment_variables": dict(env) or None,
            "command_line_arguments": shlex.join(args) if args else None}


def node_configuration(values: dict[str, Any], d: JobDefinition, derived: Mapping[str, str],
                       env: Mapping[str, str] | None = None, args: Sequence[str] | None = None) -> dict[str, Any]:
    """The node configuration of `d` from its single-node SDK values (taking out the job-level parts).

    `env`/`args`: a run's (env merged over each group's; args instead of each group's own when they
    differ from the job's); None: the job's own.
    """
    infra = values.pop(OCI_INFRA, None) or {}
    config = dict(values.pop(OCI_CONFIG, None) or {})
    container = values.pop(OCI_ENV, None) or None
    subnet, reservation = infra.get("subnet_id"), infra.get("capacity_reservation_id")
    runtime = config.pop("maximum_runtime_in_minutes", None)
    groups = []
    for group in d.node_group_runs():
        group_env, group_args = for_run(group, d.args, env or {}, d.args if args is None else args)
        group_env.update({**derived, GROUP_VARIABLE: group["name"]})
        groups.append({
            "name": group["name"], "replicas": group["replicas"],
            "minimum_success_replicas": group["minimumSuccessReplicas"],
            "job_infrastructure_configuration_details": _group_infrastructure(group["infrastructure"], reservation),
            "job_configuration_details": _group_configuration(config, group_env, group_args),
            "job_environment_configuration_details": container,
        })
    network = {"job_network_type": "CUSTOM_NETWORK", "subnet_id": subnet} if subnet else {
        "job_network_type": "DEFAULT_NETWORK"}
    return {"job_node_type": MULTI_NODE, "startup_order": d.node_startup_order, "maximum_runtime_in_minutes": runtime,
            "job_network_configuration": network, "job_node_group_configuration_details_list": groups}


def is_multi_node(job: Any) -> bool:
    return getattr(getattr(job, NODES, None), "job_node_group_configuration_details_list", None) is not None


def single_node_view(job: Any) -> Any:
    """A copy of a multi-node `job` with its first group's parts at the job level, as a single-node
    job holds them (network subnet and first reservation in the infrastructure, the node maximum runtime
    in the configuration), without the node configuration."""
    node = getattr(job, NODES)
    first = node.job_node_group_configuration_details_list[0]
    view = copy.copy(job)
    infra = copy.copy(first.job_infrastructure_configuration_details)
    if infra is not None:
        infra.subnet_id = getattr(node.job_network_configuration, "subnet_id", None)
        reservations = getattr(infra, "capacity_reservation_ids", None) or []
        infra.capacity_reservation_id = reservations[0] if reservations else None
    config = copy.copy(first.job_configuration_details)
    if config is not None and node.maximum_runtime_in_minutes is not None:
        config.maximum_runtime_in_minutes = node.maximum_runtime_in_minutes
    view.job_infrastructure_configuration_details = infra
    view.job_configuration_details = config
    view.job_environment_configuration_details = first.job_environment_configuration_details
    view.job_node_configuration_details = None
    return view


def groups_of(job: Any, env_of: Any) -> tuple[dict[str, Any], ...]:
    """Each node group of `job` in full (jobctl.model.nodes canonicalises them); `env_of(config)` reads
    a group's env without the variables jobctl derives."""
    out = []
    for group in getattr(job, NODES).job_node_group_configuration_details_list:
        infra = group.job_infrastructure_configuration_details
        config = group.job_configuration_details
        item: dict[str, Any] = {
            "name": group.name, "replicas": group.replicas or 1,
            "infrastructure": {key: _sdk_value(infra, path) for key, path in _PATHS.items()},
            "env": env_of(config),
            "args": shlex.split(getattr(config, "command_line_arguments", None) or ""),
        }
        if group.minimum_success_replicas is not None:
            item["minimumSuccessReplicas"] = group.minimum_success_replicas
        out.append(item)
    return tuple(out)


# A group's parts jobctl writes from the job's values: a group that holds others (a probe or a container of
# its own, more than one capacity reservation) holds what no spec can say.
_PER_GROUP = ("name", "replicas", "minimum_success_replicas")
_GROUP_INFRA = ("job_infrastructure_type", *{path[0] for path in _PATHS.values()})
_GROUP_CONFIG = ("job_type", "environment_variables", "command_line_arguments")


def unmodeled_in_groups(job: Any) -> list[str]:
    """SDK paths, under the node configuration, of what jobctl cannot write back as it is."""
    node = getattr(job, NODES)
    found = [part for part, kind in ((OCI_INFRA, "job_infrastructure_type"), (OCI_CONFIG, "job_type"), (OCI_ENV, None))
             if getattr(job, part, None) is not None and getattr(getattr(job, part), kind or "", None) != "EMPTY"]
    found += [f"{NODES}.{attr}" for attr in node.swagger_types
             if attr not in ("job_node_type", "startup_order", "maximum_runtime_in_minutes",
                             "job_network_configuration", "job_node_group_configuration_details_list")
             and getattr(node, attr) is not None]
    groups = node.job_node_group_configuration_details_list
    first = groups[0]
    path = f"{NODES}.job_node_group_configuration_details_list"
    for index, group in enumerate(groups):
        where = f"{path}[{index}]"
        found += [f"{where}.{attr}" for attr in group.swagger_types
                  if attr not in (*_PER_GROUP, OCI_INFRA, OCI_CONFIG, OCI_ENV) and getattr(group, attr) is not None]
        infra = group.job_infrastructure_configuration_details
        found += [f"{where}.{OCI_INFRA}.{attr}" for attr in getattr(infra, "swagger_types", {})
                  if attr not in (*_GROUP_INFRA, "capacity_reservation_ids") and getattr(infra, attr) is not None]
        if len(getattr(infra, "capacity_reservation_ids", None) or []) > 1 or _reservations(infra) != _reservations(
                first.job_infrastructure_configuration_details):
            found.append(f"{where}.{OCI_INFRA}.capacity_reservation_ids")
        config, first_config = group.job_configuration_details, first.job_configuration_details
        for attr in getattr(config, "swagger_types", {}):
            if attr not in _GROUP_CONFIG and getattr(config, attr) != getattr(first_config, attr, None):
                found.append(f"{where}.{OCI_CONFIG}.{attr}")  # the job has one probe, one maximum runtime
        if group.job_environment_configuration_details != first.job_environment_configuration_details:
            found.append(f"{where}.{OCI_ENV}")
    return found


def _reservations(infra: Any) -> list[str]:
    return list(getattr(infra, "capacity_reservation_ids", None) or [])
