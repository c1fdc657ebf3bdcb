"""Every CloudWatch metric a template's dashboards and alarms name, read from the template."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# SEARCH('{Namespace,dim1,dim2} MetricName="Name"', ...): the only expression form that names a
# metric; other expressions combine the ids of metrics listed beside them.
_SEARCH = re.compile(r"SEARCH\(\s*'\{(?P<schema>[^}]*)\}\s*MetricName=\"(?P<name>[^\"]+)\"")
_SUBSTITUTION = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class MetricReference:
    namespace: str
    name: str
    dimensions: Mapping[str, Any]  # name -> value ("*" for a SEARCH, which spans all values)
    where: str


def dashboard_body(dashboard: Mapping[str, Any], parameters: Mapping[str, str]) -> Any:
    """The dashboard's JSON, ``${...}`` filled in as CloudFormation would: parameters by value,
    ``${Resource}`` as ``<Ref Resource>``, ``${Resource.Attr}`` as ``<GetAtt Resource.Attr>``."""
    body = dashboard["Properties"]["DashboardBody"]
    text = body["Fn::Sub"] if isinstance(body, Mapping) else body
    variables: dict[str, str] = {}
    if isinstance(text, list):  # [template, {name: value}]: a value is itself a Fn::Sub string
        text, named = text
        variables = {
            name: value["Fn::Sub"] if isinstance(value, Mapping) else str(value)
            for name, value in named.items()
        }
    if not isinstance(text, str):
        raise AssertionError(f"DashboardBody must be a Fn::Sub of a string, not {body!r}")
    for name, value in variables.items():
        text = text.replace("${" + name + "}", value)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in parameters:
            return parameters[name]
        if name.startswith("AWS::"):
            return {"AWS::Region": "us-east-1", "AWS::Partition": "aws"}.get(name, name)
        return f"<GetAtt {name}>" if "." in name else f"<Ref {name}>"

    return json.loads(_SUBSTITUTION.sub(fill, text))


def dashboard_metrics(body: Mapping[str, Any], where: str) -> Iterator[MetricReference]:
    for number, widget in enumerate(body["widgets"]):
        properties = widget.get("properties", {})
        label = f"{where} widget {number} ({properties.get('title', widget['type'])!r})"
        previous: list[Any] = []
        for row in properties.get("metrics", []):
            options = row[-1] if row and isinstance(row[-1], Mapping) else {}
            positional = row[:-1] if options else row
            if not positional:
                expression = str(options.get("expression", ""))
                if "SEARCH" in expression:
                    found = list(_SEARCH.finditer(expression))
                    if not found:
                        raise AssertionError(f"{label}: cannot read the SEARCH in {expression!r}")
                    for match in found:
                        namespace, *searched = (p.strip() for p in match["schema"].split(","))
                        yield MetricReference(
                            namespace, match["name"], dict.fromkeys(searched, "*"), label
                        )
                continue
            # "." repeats the value in the same position of the row above.
            values = [
                previous[i] if value == "." and i < len(previous) else value
                for i, value in enumerate(positional)
            ]
            previous = values
            namespace, name, *pairs = values
            listed = dict(zip(pairs[::2], pairs[1::2], strict=True))
            yield MetricReference(str(namespace), str(name), listed, label)


def alarm_metrics(logical_id: str, alarm: Mapping[str, Any]) -> Iterator[MetricReference]:
    properties = alarm["Properties"]
    where = f"alarm {logical_id}"
    if "MetricName" in properties:
        yield MetricReference(
            properties["Namespace"],
            properties["MetricName"],
            {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])},
            where,
        )
    for query in properties.get("Metrics", []):
        stat = query.get("MetricStat")
        if stat:
            metric = stat["Metric"]
            yield MetricReference(
                metric["Namespace"],
                metric["MetricName"],
                {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
                where,
            )
