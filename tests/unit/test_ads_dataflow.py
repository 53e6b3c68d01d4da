"""ADS's Data Flow job YAML (issue 17): accepted as written, converted to kind DataFlowApplication as ADS
builds the application (jobctl/spec/ads_dataflow.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from jobctl.spec.load import load_specs

# ADS's user guide (apachespark/dataflow.rst), with values for its <placeholders>
GUIDE = """\
kind: job
spec:
  name: dataflow_app_name
  infrastructure:
    kind: infrastructure
    spec:
      compartmentId: ocid1.compartment.oc1..aaaaexample
      driverShape: VM.Standard.E4.Flex
      driverShapeConfig:
        ocpus: 2
        memory_in_gbs: 32
      executorShape: VM.Standard.E4.Flex
      executorShapeConfig:
        ocpus: 4
        memory_in_gbs: 64
      language: PYTHON
      logsBucketUri: oci://dataflow-logs@mytenancy/
      numExecutors: 1
      sparkVersion: 3.2.1
      privateEndpointId: ocid1.dataflowprivateendpoint.oc1.iad.aaaaexample
      freeformTags:
        team: ml
    type: dataFlow
  runtime:
    kind: runtime
    spec:
      configuration:
          spark.driverEnv.myEnvVariable: value1
          spark.executorEnv.myEnvVariable: value2
      scriptBucket: oci://dataflow-code@mytenancy/apps
      scriptPathURI: ./main.py
    type: dataFlow
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "main.py").write_text("print('hi')\n")
    path = tmp_path / "dataflow.yaml"
    path.write_text(text)
    return path


def test_the_user_guides_dataflow_yaml_loads_as_an_application_as_ads_would_create_it(tmp_path: Path) -> None:
    result = load_specs([str(write(tmp_path, GUIDE))], {})
    assert result.ok, [str(d) for d in result.diagnostics]
    [app] = result.applications
    d = app.definition
    assert (d.name, d.display_name, d.language, d.spark_version, d.num_executors) == (
        "dataflow-app-name", "dataflow_app_name", "PYTHON", "3.2.1", 1)
    assert (d.driver_ocpus, d.driver_memory_in_gbs, d.executor_ocpus, d.executor_memory_in_gbs) == (2, 32, 4, 64)
    assert d.configuration == {"spark.driverEnv.myEnvVariable": "value1", "spark.executorEnv.myEnvVariable": "value2"}
    assert (d.code_uri, app.source, d.labels) == ("oci://dataflow-code@mytenancy/apps", tmp_path / "main.py",
                                                  {"team": "ml"})


def test_opctl_init_style_values_conda_env_and_args_convert_as_ads_sends_them(jobctl, tmp_path: Path) -> None:
    path = write(tmp_path, GUIDE.replace("numExecutors: 1", "numExecutors: '2'").replace(
        "      scriptBucket:", "      args: [--input, oci://data@mytenancy/in.txt]\n"
        "      conda: {type: published, uri: 'oci://packs@mytenancy/conda/pyspark/1.0/pyspark_v1'}\n"
        "      env:\n        - {name: MODEL, value: rf}\n      scriptBucket:"))
    converted = jobctl("convert", str(path), "-o", str(tmp_path / "app.yaml"))
    assert converted.exit_code == 0, converted.stderr
    document = yaml.safe_load((tmp_path / "app.yaml").read_text())
    assert document["kind"] == "DataFlowApplication"
    spec = document["spec"]
    assert (spec["numExecutors"], spec["source"], spec["arguments"]) == (2, "./main.py",
                                                                         ["--input", "oci://data@mytenancy/in.txt"])
    assert spec["configuration"]["spark.archives"] == "oci://packs@mytenancy/conda/pyspark/1.0/pyspark_v1#conda"
    assert spec["configuration"]["dataflow.auth"] == "resource_principal"
    assert (spec["configuration"]["spark.driverEnv.MODEL"], spec["configuration"]["spark.executorEnv.MODEL"]) == (
        "rf", "rf")
    again = jobctl("validate", str(tmp_path / "app.yaml"))
    assert again.exit_code == 0, again.stderr


def test_what_ads_would_drop_or_cannot_run_is_said_at_its_line(jobctl, tmp_path: Path) -> None:
    path = write(tmp_path, GUIDE.replace("      language: PYTHON\n", "      language: PYTHON\n"
                                                                     "      configuration: {spark.x: '1'}\n").replace(
        "scriptBucket: oci://dataflow-code@mytenancy/apps", "scriptBucket: dataflow-code"))
    result = jobctl("validate", str(path))
    assert result.exit_code == 3
    assert f"{path}:17:7: spec.infrastructure.spec.configuration: ADS replaces the infrastructure's configuration" \
        in result.stderr
    assert "spec.runtime.spec.scriptBucket: give scriptBucket as oci://bucket@namespace/prefix" in result.stderr
    mixed = write(tmp_path, GUIDE.replace("    type: dataFlow\n  runtime:", "    type: dataScienceJob\n  runtime:"))
    result = jobctl("validate", str(mixed))
    assert result.exit_code == 3
    assert "spec.runtime.type: a dataFlow runtime goes with a dataFlow infrastructure, not 'dataScienceJob'" in (
        result.stderr)
