"""Reading YAML and JSON: short-form tags, line marks, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canaria.errors import TemplateError
from canaria.template import load
from canaria.template.nodes import LineList, LineMap
from canaria.template.yamlload import parse_text
from tests.unit.template.template_helpers import PY, fails, function, line_of, resources, write


def test_short_forms_become_long_forms() -> None:
    doc = parse_text(
        "a: !Ref X\n"
        "b: !GetAtt Fn.Arn\n"
        "c: !GetAtt [Fn, Arn]\n"
        "d: !Sub 'x-${Y}'\n"
        "e: !If [C, 1, 2]\n"
        "f: !Join [',', [a, b]]\n"
        "g: !Select [0, !Split [',', 'a,b']]\n"
        "h: !Equals [a, b]\n"
        "i: !And [!Condition A, !Not [!Condition B]]\n"
        "j: !Or [!Condition A, !Condition B]\n"
        "k: !FindInMap [M, K, V]\n"
        "l: !Base64 text\n"
        "m: !GetAZs ''\n"
        "n: !ImportValue Exported\n"
        "o: !GetAtt Fn.Alias.Name\n",
        "t.yaml",
    )
    assert doc["a"] == {"Ref": "X"}
    assert doc["b"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert doc["c"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert doc["d"] == {"Fn::Sub": "x-${Y}"}
    assert doc["e"] == {"Fn::If": ["C", 1, 2]}
    assert doc["f"] == {"Fn::Join": [",", ["a", "b"]]}
    assert doc["g"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert doc["h"] == {"Fn::Equals": ["a", "b"]}
    assert doc["i"] == {"Fn::And": [{"Condition": "A"}, {"Fn::Not": [{"Condition": "B"}]}]}
    assert doc["j"] == {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}
    assert doc["k"] == {"Fn::FindInMap": ["M", "K", "V"]}
    assert doc["l"] == {"Fn::Base64": "text"}
    assert doc["m"] == {"Fn::GetAZs": ""}
    assert doc["n"] == {"Fn::ImportValue": "Exported"}
    assert doc["o"] == {"Fn::GetAtt": ["Fn", "Alias.Name"]}


def test_line_marks_on_maps_lists_and_keys() -> None:
    doc = parse_text("top:\n  a: 1\n  list:\n    - x\n    - y\n", "t.yaml")
    assert isinstance(doc, LineMap) and doc.lines == {"top": 1}
    assert doc["top"].lines == {"a": 2, "list": 3}
    assert isinstance(doc["top"]["list"], LineList) and doc["top"]["list"].lines == [4, 5]


def test_dates_stay_strings() -> None:
    assert parse_text("v: 2010-09-09\n", "t.yaml") == {"v": "2010-09-09"}


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "Resources:\n  Fn:\n    Type: [unclosed\n")
    err = fails(path)
    assert err.file == path and err.line is not None and err.line >= 4
    assert "invalid YAML" in str(err) and "template.yaml:" in str(err)


def test_a_key_written_twice_keeps_its_last_value_with_a_warning(tmp_path: Path) -> None:
    # CloudFormation and SAM deploy such a template, the later value winning
    path = write(tmp_path, resources(function(extra="MemorySize: 256\nMemorySize: 512\n")))
    app = load(path)
    assert app.functions["Fn"].config.memory_mb == 512
    (warning,) = [w for w in app.warnings if "written again" in w]
    first = line_of(path, "MemorySize: 256")
    assert warning.startswith(f"{path}:{first + 1}: key 'MemorySize'")
    assert f"first on line {first}" in warning


def test_a_key_written_twice_in_a_definition_is_refused() -> None:
    with pytest.raises(TemplateError, match="written twice") as info:
        parse_text('{"StartAt": "A",\n "StartAt": "B"}', "machine.json")
    assert info.value.line == 2


def test_unknown_tag_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function(extra="Description: !Reff X\n")))
    err = fails(path)
    assert "unknown tag !Reff" in err.message
    assert err.allowed is not None and "!Ref" in err.allowed and "!GetAtt" in err.allowed
    assert err.line == line_of(path, "!Reff")


def test_a_template_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- a\n", head="")
    assert "mapping" in fails(path).message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        load(str(tmp_path / "nope.yaml"))


def test_json_template_loads_with_line_marks(tmp_path: Path) -> None:
    body = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Parameters": {"Mem": {"Type": "Number", "Default": 256}},
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "app.handler",
                    "Runtime": PY,
                    "CodeUri": "src",
                    "MemorySize": {"Ref": "Mem"},
                    "Timeout": 9000,
                },
            }
        },
    }
    path = write(tmp_path, json.dumps(body, indent=2), name="template.json", head="")
    err = fails(path)
    assert err.prop == "Resources.Fn.Properties.Timeout"
    assert err.line == line_of(path, '"Timeout"')
    body["Resources"]["Fn"]["Properties"]["Timeout"] = 10  # type: ignore[index]
    Path(path).write_text(json.dumps(body))
    fn = load(path).functions["Fn"]
    assert fn.config.memory_mb == 256 and fn.config.timeout_s == 10.0


def test_bad_json_reports_json_error(tmp_path: Path) -> None:
    path = write(tmp_path, '{"Resources": {\n  "Fn": ,\n}}', name="template.json", head="")
    err = fails(path)
    assert err.line == 2 and "invalid" in err.message


def test_json_indented_with_tabs(tmp_path: Path) -> None:
    body = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "app.handler", "Runtime": PY, "CodeUri": "src"},
            }
        },
    }
    path = write(tmp_path, json.dumps(body, indent="\t"), name="template.template", head="")
    assert load(path).functions["Fn"].config.handler == "app.handler"
