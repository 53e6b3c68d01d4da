"""Data Flow applications on this machine (issue 17): the Spark process a run is, and one real word count."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.backends.local import spark
from jobctl.errors import UsageError
from jobctl.model.definition import replace
from jobctl.spec.application import ApplicationSpec
from jobctl.spec.load import load_specs
from tests.conftest import EXAMPLES

WORDCOUNT = EXAMPLES / "wordcount"


def wordcount() -> ApplicationSpec:
    [app] = load_specs([str(WORDCOUNT)], {}).applications
    return app


def test_a_pyspark_application_runs_as_python_with_its_master_conf_args_and_env(tmp_path: Path) -> None:
    app = wordcount()
    work = tmp_path / "run" / "work"
    launched = spark.launch(app.definition, app.source, home=tmp_path, cwd=work, env={"MODEL": "rf"},
                            parameters={"input": "in.txt"}, configuration={"spark.x": "1"}, python="/py", cpus=8)
    assert launched.argv == ["/py", str(WORDCOUNT / "wordcount.py"), "--input", "in.txt", "--min-count", "2"]
    conf = tmp_path / "run" / "spark.properties"
    assert launched.env["PYSPARK_SUBMIT_ARGS"] == (
        f"--master 'local[2]' --properties-file {conf} pyspark-shell")  # 2 executors x 1 OCPU
    assert conf.read_text().splitlines() == [
        "spark.ui.enabled=false", "spark.ui.showConsoleProgress=false", "spark.driverEnv.MODEL=rf",
        "spark.executorEnv.MODEL=rf", "spark.sql.shuffle.partitions=4", "spark.x=1"]
    assert launched.env["MODEL"] == "rf"  # the driver is this process: it has the env itself
    assert (tmp_path / "spark-conf" / "log4j2.properties").read_text().startswith("rootLogger.level = warn")
    assert launched.env["SPARK_CONF_DIR"] == str(tmp_path / "spark-conf")


def test_secrets_stay_off_the_command_line_and_the_driver_gets_its_spark_env(tmp_path: Path) -> None:
    """Red team, issue 17: `ps` showed --conf spark.driverEnv.API_TOKEN=... on the JVM's command line; and a
    spec's spark.driverEnv.X, Data Flow's way to give the driver env, did not reach it locally."""
    app = replace(wordcount().definition, configuration={"spark.driverEnv.DB_PASSWORD": "from-spec-1",
                                                        "spark.hadoop.fs.s3a.secret.key": "conf-secret-2"})
    for language, source in (("PYTHON", "a.py"), ("SCALA", "a.jar"), ("SQL", "a.sql")):
        defined = replace(app, language=language, class_name="A" if language == "SCALA" else None,
                          parameters={"db_password": "param-secret-3"}, arguments=())
        launched = spark.launch(defined, tmp_path / source, home=tmp_path, cwd=tmp_path / "run" / "work",
                                env={"API_TOKEN": "env-secret-4"})
        shown = " ".join([*launched.argv, launched.env.get("PYSPARK_SUBMIT_ARGS", "")])
        for secret in ("from-spec-1", "conf-secret-2", "param-secret-3", "env-secret-4"):
            assert secret not in shown, (language, shown)
        assert (launched.env["DB_PASSWORD"], launched.env["API_TOKEN"]) == ("from-spec-1", "env-secret-4")
        for private in (tmp_path / "run").iterdir():
            assert private.stat().st_mode & 0o077 == 0, private
    assert "SET hivevar:db_password=param-secret-3;" in (tmp_path / "run" / "hivevars.sql").read_text()


def test_the_properties_file_reads_back_in_java_as_written(tmp_path: Path) -> None:
    """Java's own parser (what Spark's --properties-file uses, as UTF-8) is the oracle for the escaping."""
    import json
    import os
    import shutil
    import subprocess

    odd = {"spark.a": " leading space", "spark.b": "back\\slash\\n", "spark.c": "new\nline\ttab",
           "spark.d": "= : # ! é", "key with=odd:chars#!": "x", "spark.e": "", "spark.f": "trailing "}
    (tmp_path / "p.properties").write_text(spark.properties(odd), encoding="utf-8")
    (tmp_path / "Read.java").write_text(
        "import java.io.*; import java.nio.charset.StandardCharsets; import java.util.*;\n"
        "public class Read { public static void main(String[] a) throws Exception {\n"
        "  Properties p = new Properties();\n"
        "  p.load(new InputStreamReader(new FileInputStream(a[0]), StandardCharsets.UTF_8));\n"
        "  for (String k : new TreeSet<>(p.stringPropertyNames())) {\n"
        "    System.out.println(k.length() + \":\" + k + p.getProperty(k).length() + \":\" + p.getProperty(k)); }\n"
        "} }\n")
    java = shutil.which("java", path=f"{os.environ.get('JAVA_HOME', '')}/bin") or shutil.which("java")
    assert java, "Java 17 runs local Spark: it must be installed"
    done = subprocess.run([java, str(tmp_path / "Read.java"), str(tmp_path / "p.properties")], capture_output=True,
                          text=True, encoding="utf-8", timeout=60, check=True)
    read, text = {}, done.stdout
    while text:  # length-prefixed key, then value: newlines inside values stay unambiguous
        size, _, text = text.partition(":")
        key, text = text[:int(size)], text[int(size):]
        size, _, text = text.partition(":")
        read[key], text = text[:int(size)], text[int(size) + 1:]
    assert read == odd, json.dumps(read)


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


def test_without_java_the_error_says_so_before_spark_starts(jobctl, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    """Red team, issue 17: the run just FAILED, with pyspark's traceback in its log."""
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "app.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {name: nojava}\nspec:\n"
        "  language: PYTHON\n  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n  source: ./a.py\n")
    assert jobctl("apply", str(tmp_path / "app.yaml")).exit_code == 0
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))  # Spark would take it over the java on PATH
    result = jobctl("run", "nojava")
    assert result.exit_code == 2
    assert "running a Data Flow application locally needs Java (8, 11 or 17, as Spark 3.5 does)" in result.stderr
    assert "set JAVA_HOME to where it is" in result.stderr
