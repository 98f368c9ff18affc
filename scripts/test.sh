#!/usr/bin/env bash
# Runs every test: fast (test harness, WebApplicationFactory), integration (real RabbitMQ + PostgreSQL) and
# end-to-end (the real host processes), and the cluster tier (tests/Cluster.Tests and the fault suite's cluster
# scenarios). Starts the real infrastructure first through scripts/infra.sh: the single-node servers, then the
# three-node RabbitMQ cluster and the PostgreSQL primary + standby (`cluster up` is idempotent: ~20 s when they run).
#
#   bash scripts/test.sh [extra dotnet test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/infra.sh up >/dev/null
# Its settings are not exported: the suites take the script's values as defaults, and Backbone__RabbitMq__Nodes__* in
# the environment would reach every in-process host of the other suites (Host and Nodes together are refused).
bash scripts/infra.sh cluster up >/dev/null

results=$(mktemp -d)
status=0
# normal verbosity lists every test by name, so the log shows the integration and end-to-end tiers ran.
dotnet test EventBackbone.sln -c Release \
  --logger "console;verbosity=normal" \
  --logger "trx" --results-directory "$results" "$@" || status=$?

# One closing line over all test assemblies, counted from the trx files.
python3 - "$results" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
failures = []
for path in glob.glob(f"{sys.argv[1]}/*.trx"):
    root = ET.parse(path).getroot()
    c = root.find("t:ResultSummary/t:Counters", ns)
    passed += int(c.get("passed")); failed += int(c.get("failed")) + int(c.get("error")) + int(c.get("timeout"))
    skipped += int(c.get("notExecuted"))
    for r in root.iterfind(".//t:UnitTestResult", ns):
        if r.get("outcome") not in ("Passed", "NotExecuted"):
            message = r.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=ns).strip()
            failures.append((r.get("testName"), " ".join(message.split())[:400]))
# The failed tests' names and messages again, last: a CI log is often read from its tail only, where the failure
# itself scrolled away minutes of output earlier.
for name, message in failures:
    print(f"FAILED {name}\n  {message}")
print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
rm -rf "$results"
exit $status
