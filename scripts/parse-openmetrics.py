#!/usr/bin/env python3
"""Reads an OpenMetrics text exposition on stdin with the reference parser
(prometheus_client) and prints its samples as JSON lines: name, labels, value. Used by the
end-to-end tests to check /metrics with a parser that is not ours."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        print(json.dumps({"family": family.name, "type": family.type, "name": sample.name,
                          "labels": sample.labels, "value": sample.value}))
