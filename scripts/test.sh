#!/usr/bin/env bash
# Runs the tests (docs/testing.md). Without options: every test — fast (test harness, WebApplicationFactory),
# integration (real RabbitMQ + PostgreSQL), end-to-end (the real host processes), browser, and the faults tier (the fault
# suite and tests/Cluster.Tests); this is what CI runs. It starts the real infrastructure first through scripts/infra.sh:
# the single-node servers, then the three-node RabbitMQ cluster and the PostgreSQL primary + standby (`cluster up` is
# idempotent: ~20 s when they run).
#
#   bash scripts/test.sh [extra dotnet test arguments]                  every tier
#   bash scripts/test.sh --fast [extra dotnet test arguments]           the Fast tier: starts no server, reaches none
#   bash scripts/test.sh --tier <Name> [extra dotnet test arguments]    one tier: Fast, Integration, EndToEnd, Browser, Faults
#
# A tier is the xunit trait Tier on every test (tests/TestSuite.Tests checks each has one). With --fast or --tier, a
# `--filter <expression>` among the extra arguments narrows the tier: Tier=<Name>&(<expression>).
set -euo pipefail
cd "$(dirname "$0")/.."

tier=""
case "${1:-}" in
  --fast) tier=Fast; shift ;;
  --tier)
    [ $# -ge 2 ] || { echo "usage: bash scripts/test.sh --tier Fast|Integration|EndToEnd|Browser|Faults [dotnet test arguments]" >&2; exit 2; }
    tier=$2; shift 2 ;;
esac

args=("$@")
if [ -n "$tier" ]; then
  case "$tier" in
    Fast | Integration | EndToEnd | Browser | Faults) ;;
    *) echo "Unknown tier '$tier': one of Fast, Integration, EndToEnd, Browser, Faults." >&2; exit 2 ;;
  esac
  # One --filter only: dotnet test keeps the last one given, which would drop the tier. Runsettings after `--` stay
  # after it, behind the script's own (the filter must not land among them).
  filter="Tier=$tier"
  args=()
  runsettings=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then
      shift
      runsettings=("$@")
      break
    elif [ "$1" = "-c" ] || [ "$1" = "--configuration" ] || [ "${1#--configuration=}" != "$1" ]; then
      # The tier's assemblies are run as built files, where dotnet test would ignore a configuration with a warning.
      echo "--fast and --tier test the Release build: drop $1." >&2
      exit 2
    elif [ "$1" = "--filter" ] && [ $# -ge 2 ]; then
      filter="Tier=$tier&($2)"
      shift 2
    elif [ "${1#--filter=}" != "$1" ]; then
      filter="Tier=$tier&(${1#--filter=})"
      shift
    else
      args+=("$1")
      shift
    fi
  done
  args+=(--filter "$filter")
fi

case "$tier" in
  Fast)
    # As on a machine without servers: no setting of a shell that ran `eval "$(bash scripts/infra.sh env)"` reaches an
    # in-process host, and every address the tests' InfrastructureSettings reads points at port 1, which refuses at
    # once. A test in the Fast tier that reaches for a server fails here, where the servers may well be running,
    # instead of only on the machine of someone who has none.
    while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(Backbone__|ConnectionStrings__)' || true)
    export Backbone__RabbitMq__Host=127.0.0.1 Backbone__RabbitMq__Port=1 Backbone__RabbitMq__ManagementUrl=http://127.0.0.1:1
    export Backbone__Postgres__AdminConnectionString='Host=127.0.0.1;Port=1;Username=backbone;Password=backbone;Database=postgres'
    ;;
  Integration | EndToEnd | Browser)
    bash scripts/infra.sh up >/dev/null
    ;;
  *)
    bash scripts/infra.sh up >/dev/null
    # Its settings are not exported: the suites take the script's values as defaults, and Backbone__RabbitMq__Nodes__* in
    # the environment would reach every in-process host of the other suites (Host and Nodes together are refused).
    bash scripts/infra.sh cluster up >/dev/null
    ;;
esac

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
if [ -n "$tier" ]; then
  # Only the test projects that have tests of this tier (their sources name it, on the assembly or on a class): every
  # other project would still start a test host just to find nothing.
  python3 - "$tier" "$PWD" "$results" <<'PY'
import glob, json, os, sys
tier, root, results = sys.argv[1:]
projects = sorted(
    os.path.relpath(project, root)
    for project in glob.glob(f"{root}/tests/*/*.csproj")
    if any(f'"Tier", "{tier}"' in open(source, encoding="utf-8").read()
           for source in glob.glob(f"{os.path.dirname(project)}/**/*.cs", recursive=True) if "/obj/" not in source))
json.dump({"solution": {"path": f"{root}/EventBackbone.sln", "projects": projects}}, open(f"{results}/tier.slnf", "w"), indent=2)
# Where the build puts each test assembly: EventBackbone.<project>.dll (Directory.Build.props names them so).
with open(f"{results}/assemblies", "w") as out:
    for project in projects:
        name = os.path.splitext(os.path.basename(project))[0]
        out.write(f"{os.path.dirname(project)}/bin/Release/net10.0/EventBackbone.{name}.dll\n")
PY
  # One build, then every assembly in one test run, side by side (MaxCpuCount=0: one test host per core at a time).
  # `dotnet test` on the projects paid MSBuild's per-project test targets again for each of them, serially per node:
  # most of the fast tier's time on two cores (docs/testing.md has the figures).
  build=1
  test_args=()
  for arg in ${args[@]+"${args[@]}"}; do
    if [ "$arg" = "--no-build" ]; then build=0; else test_args+=("$arg"); fi
  done
  if [ "$build" = 1 ]; then
    dotnet build "$results/tier.slnf" -c Release -nologo -v:q || exit $?
  fi
  mapfile -t assemblies < "$results/assemblies"
  # None would make dotnet test fall back to the solution in this folder: every tier, not this one.
  [ ${#assemblies[@]} -gt 0 ] || { echo "No test project has tests of the tier $tier." >&2; exit 1; }
  for assembly in "${assemblies[@]}"; do
    [ -f "$assembly" ] || { echo "No test assembly at $assembly: build first, or name the assembly EventBackbone.<project>." >&2; exit 1; }
  done
  dotnet test "${assemblies[@]}" \
    --logger "console;verbosity=normal" \
    --logger "trx" --results-directory "$results" ${test_args[@]+"${test_args[@]}"} \
    -- RunConfiguration.MaxCpuCount=0 ${runsettings[@]+"${runsettings[@]}"} || status=$?
else
  # normal verbosity lists every test by name, so the log shows the integration and end-to-end tiers ran.
  dotnet test EventBackbone.sln -c Release \
    --logger "console;verbosity=normal" \
    --logger "trx" --results-directory "$results" ${args[@]+"${args[@]}"} || status=$?
fi

# One closing line over all test assemblies, counted from the trx files.
python3 - "$results" <<'PY' || true
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
failures = []
run_errors = []
for path in glob.glob(f"{sys.argv[1]}/*.trx"):
    root = ET.parse(path).getroot()
    c = root.find("t:ResultSummary/t:Counters", ns)
    passed += int(c.get("passed")); failed += int(c.get("failed")) + int(c.get("error")) + int(c.get("timeout"))
    skipped += int(c.get("notExecuted"))
    for r in root.iterfind(".//t:UnitTestResult", ns):
        if r.get("outcome") not in ("Passed", "NotExecuted"):
            message = r.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=ns).strip()
            failures.append((r.get("testName"), " ".join(message.split())[:400]))
    # A test host that crashed or was aborted fails the run with no failed test to name: its error is here.
    for info in root.iterfind("t:ResultSummary/t:RunInfos/t:RunInfo", ns):
        if info.get("outcome") == "Error":
            run_errors.append(" ".join(info.findtext("t:Text", default="", namespaces=ns).split())[:400])
# The failed tests' names and messages again, last: a CI log is often read from its tail only, where the failure
# itself scrolled away minutes of output earlier.
for name, message in failures:
    print(f"FAILED {name}\n  {message}")
for text in run_errors:
    print(f"RUN ERROR {text}")
print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
