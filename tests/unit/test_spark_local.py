"""Data Flow applications on this machine (issue 17): the Spark process a run is, and one real word count."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from jobctl.backends.local import spark
from jobctl.errors import UsageError
from jobctl.spec.application import ApplicationSpec
from jobctl.spec.load import load_specs
from tests.conftest import EXAMPLES

WORDCOUNT = EXAMPLES / "wordcount"


def wordcount() -> ApplicationSpec:
    [app] = load_specs([str(WORDCOUNT)], {}).applications
    return app


def test_a_pyspark_application_runs_as_python_with_its_master_conf_args_and_env(tmp_path: Path) -> None:
    app = wordcount()
    launched = spark.launch(app.definition, app.source, home=tmp_path, cwd=tmp_path, env={"MODEL": "rf"},
                            parameters={"input": "in.txt"}, configuration={"spark.x": "1"}, python="/py", cpus=8)
    assert launched.argv == ["/py", str(WORDCOUNT / "wordcount.py"), "--input", "in.txt", "--min-count", "2"]
    assert launched.env["PYSPARK_SUBMIT_ARGS"] == (
        "--master 'local[2]' --conf spark.driverEnv.MODEL=rf --conf spark.executorEnv.MODEL=rf "
        "--conf spark.sql.shuffle.partitions=4 --conf spark.x=1 pyspark-shell")  # 2 executors x 1 OCPU
    assert launched.env["MODEL"] == "rf"  # the driver is this process: it has the env itself
    assert (tmp_path / "spark-conf" / "log4j2.properties").read_text().startswith("rootLogger.level = warn")
    assert launched.env["SPARK_CONF_DIR"] == str(tmp_path / "spark-conf")


def test_jar_and_sql_applications_run_through_spark_submit_and_spark_sql(tmp_path: Path) -> None:
    definition = wordcount().definition
    jar = replace(definition, language="SCALA", class_name="com.example.WordCount", num_executors=64)
    launched = spark.launch(jar, tmp_path / "wc.jar", home=tmp_path, cwd=tmp_path, env={}, cpus=2)
    assert launched.argv[0].endswith("/bin/spark-submit")
    assert launched.argv[1:3] == ["--master", "local[2]"]  # at most this machine's
    assert launched.argv[-7:] == ["--class", "com.example.WordCount", str(tmp_path / "wc.jar"), "--input",
                                  "oci://data@my-namespace/books.txt", "--min-count", "2"]
    sql = replace(definition, language="SQL", arguments=())
    launched = spark.launch(sql, tmp_path / "q.sql", home=tmp_path, cwd=tmp_path, env={})
    assert launched.argv[0].endswith("/bin/spark-sql")
    assert launched.argv[-4:] == ["--hivevar", "input=oci://data@my-namespace/books.txt", "-f",
                                  str(tmp_path / "q.sql")]


def test_a_placeholder_no_parameter_fills_is_said_before_spark_starts(tmp_path: Path) -> None:
    app = wordcount()
    with pytest.raises(UsageError, match=r"the arguments use \$\{output\}, which no parameter gives"):
        spark.launch(app.definition, app.source, home=tmp_path, cwd=tmp_path, env={},
                     arguments=["--out", "${output}"])


def test_without_pyspark_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(spark.importlib.util, "find_spec", lambda name: None)
    app = wordcount()
    with pytest.raises(UsageError, match=r"needs pyspark: install jobctl's `spark` extra"):
        spark.launch(app.definition, app.source, home=tmp_path, cwd=tmp_path, env={})
