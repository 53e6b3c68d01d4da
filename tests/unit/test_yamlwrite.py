"""Exported specs are written without PyYAML when they can be, as exactly the text PyYAML writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl.spec.yamlwrite import dump
from tests.conftest import REPO


def pyyaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


# text that is near the edges of what PyYAML writes plain: flags, paths, numbers, bools, colons, spaces
_EDGES = st.sampled_from(["3", "08", "007", "0", "-1", "1.5", ".5", "./src", "../x", ".inf", "--epochs", "-", "--",
                          "yes", "No", "TRUE", "off", "null", "Null", "~", "y", "n", "=", "<<", "a: b", "a:b", "a #b",
                          "a#b", "x:", "oci://bucket@ns/path", "VM.Standard.E4.Flex", "it's", "'q'", " lead", "trail ",
                          "two  spaces", "", "é", "a\nb", "2024-01-02", "1:30", "0x1F", "@x", "%x", "a,b", "a=b",
                          "x" * 130])
_WORD = st.text(alphabet="abcXYZ019_./-:'= #@,", min_size=0, max_size=12)
_TEXT = st.one_of(_EDGES, _WORD, st.lists(_WORD, max_size=12).map(" ".join))
_SCALAR = st.one_of(_TEXT, st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False))
# mostly what exports hold (names, paths, flags, a few words, whole numbers), which this writer writes itself
_NAME = st.from_regex(r"(?:[a-zA-Z/_]|\./|--[a-z])[a-zA-Z0-9_./:'=-]{0,10}", fullmatch=True)
_PLAIN_TEXT = st.one_of(_NAME, _EDGES, st.lists(_NAME, min_size=1, max_size=14).map(" ".join))
_PLAIN_SCALAR = st.one_of(_PLAIN_TEXT, st.none(), st.booleans(), st.integers(-10**6, 10**6))


def documents(text: st.SearchStrategy[str], scalar: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(text, st.recursive(
        scalar, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
        max_leaves=20), max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.one_of(documents(_TEXT, _SCALAR), documents(_PLAIN_TEXT, _PLAIN_SCALAR)))
def test_any_document_is_written_as_pyyaml_writes_it(document: dict[str, Any]) -> None:
    assert dump(document) == pyyaml(document)


def test_a_document_holding_one_list_twice_is_written_by_pyyaml_with_its_alias() -> None:
    shared = ["a"]
    document = {"one": shared, "two": shared}

    assert dump(document) == pyyaml(document)
    assert "&id001" in dump(document)


@pytest.mark.parametrize("spec", sorted(str(p.relative_to(REPO)) for p in (REPO / "specs-examples").rglob("*.yaml")))
def test_every_example_spec_is_written_as_pyyaml_writes_it(spec: str) -> None:
    for document in yaml.safe_load_all((REPO / spec).read_text(encoding="utf-8")):
        if isinstance(document, dict):
            assert dump(document) == pyyaml(document)


def test_the_hello_job_is_written_without_pyyaml() -> None:
    import subprocess
    import sys

    probe = ("import sys, yaml, json; doc = yaml.safe_load(open(sys.argv[1])); "
             "[sys.modules.pop(m) for m in list(sys.modules) if m == 'yaml' or m.startswith('yaml.')]; "
             "from jobctl.spec.yamlwrite import dump; text = dump(doc); "
             "print(json.dumps(['yaml' in sys.modules, text]))")
    done = subprocess.run([sys.executable, "-c", probe, str(Path(REPO, "specs-examples/hello/job.yaml"))],
                          capture_output=True, text=True, check=True, cwd=REPO)
    imported, text = json.loads(done.stdout)

    assert not imported
    assert text == pyyaml(yaml.safe_load((REPO / "specs-examples/hello/job.yaml").read_text()))
