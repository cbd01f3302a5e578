#!/usr/bin/env bash
# Longer fuzz runs of the config loader, the MessagePack reader (issue 10 §9), and of the
# control socket's request parser (issue 11).
# CI runs the same tests for 10 s per target with a fixed seed (FuzzHarness.DefaultSeed); this script runs them
# longer, round after round, each round with a new random seed.
#
#   bench/fuzz.sh                          3 rounds of 5 min per target (~1 h on 2 cores)
#   FUZZ_SECONDS=60 FUZZ_ROUNDS=1 bench/fuzz.sh
#   FUZZ_SEED=0x1234 FUZZ_ROUNDS=1 bench/fuzz.sh     replay one seed (as printed by a round)
#   FUZZ_TARGETS="config" bench/fuzz.sh    a subset of: config msgpack request
#   FUZZ_ALLOC_CAP=16777216 bench/fuzz.sh  report inputs that allocate over 16 MB (CI's cap is 64 MB)
#
# Each round prints one line per target: seed, inputs, inputs per second, values/errors, the most one input
# allocated, failures. A failing input is saved under .artifacts/fuzz/ (or FUZZ_OUT) and named in the output:
# fix the bug, then add the input to the target's corpus/ folder (tests/*/Fuzz/corpus/TARGET/), which a normal
# test replays. Exits 1 if any round had a failure.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export FUZZ_SECONDS=${FUZZ_SECONDS:-300}
ROUNDS=${FUZZ_ROUNDS:-3}
TARGETS=${FUZZ_TARGETS:-config msgpack request}

dotnet build Vigil.slnx -c Release -nologo -v quiet >/dev/null || { echo "build failed"; exit 1; }

failed=0
for ((round = 1; round <= ROUNDS; round++)); do
  if [ -n "${FUZZ_SEED:-}" ] && [ "$ROUNDS" -eq 1 ]; then seed=$FUZZ_SEED
  else seed=0x$(od -An -N8 -tx8 /dev/urandom | tr -d ' '); fi
  echo "round $round/$ROUNDS: FUZZ_SEED=$seed, FUZZ_SECONDS=$FUZZ_SECONDS per target"
  for target in $TARGETS; do
    case $target in
      config)  project=tests/Vigil.Core.Tests   filter="FullyQualifiedName~ConfigFuzzTests.The_loader" ;;
      msgpack) project=tests/Vigil.Tether.Tests filter="FullyQualifiedName~DecoderFuzzTests.The_MessagePack" ;;
      request) project=tests/Vigil.Control.Tests filter="FullyQualifiedName~RequestFuzzTests.The_parser" ;;
      *) echo "unknown target $target (config, msgpack, request)"; exit 2 ;;
    esac
    out=$(FUZZ_SEED=$seed dotnet test "$project" -c Release --no-build -nologo --filter "$filter" \
          --logger "console;verbosity=detailed" 2>&1)
    rc=$?
    # The report line, then (on failure) what failed and where the input was saved.
    echo "$out" | grep -E "^ *$target: seed " | head -1 | sed 's/^ */  /'
    if [ $rc -ne 0 ]; then
      failed=1
      echo "$out" | grep -E "^(threw|allocated|no outcome|  input saved)" | sed 's/^/    /' | head -40
      echo "$out" | grep -qE "^ *$target: seed " || echo "$out" | tail -20
    fi
  done
done
exit $failed
