#!/usr/bin/env bash
# Mutation testing of the two modules issue 19 item 7 names, with mutmut 3 (requirements-dev.txt):
#   contracts/src/cungdan_contracts/quantities.py and services/ingest/src/cungdan_ingest/validation.py
#
#   tests/mutation/run_mutmut.sh [WORKDIR]            # the committed HEAD
#   SNAPSHOT=worktree tests/mutation/run_mutmut.sh    # the work tree as it is
#   OVERLAY="tests/unit/test_quantities.py" tests/mutation/run_mutmut.sh  # HEAD + these files
# then `cd WORKDIR && /path/to/.venv/bin/mutmut results` (or `mutmut show NAME`).
#
# mutmut mutates the packages under ./src of the directory it runs in and puts ./mutants first
# on sys.path; this checkout keeps its packages under contracts/src and services/*/src. So the
# run happens in a scratch copy (never in the shared work tree): the repository's files, with
# every package laid out as src/<package>, and a [tool.mutmut]
# table appended to the copy's pyproject.toml. One worker (the machine has 2 shared cores).
# It ends with the score of each module (tests/mutation/score.py): killed (or timed out) over
# all mutants less the equivalent ones, listed with the reason in tests/mutation/equivalent.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/cungdan-mutation.XXXXXX")}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
echo "mutation work directory: $WORK"
rm -rf "$WORK/mutants"
# A consistent snapshot: the commit SNAPSHOT (default HEAD), or the work tree as it is now
# (SNAPSHOT=worktree). Every package goes under src/, so nothing is imported from the checkout.
SNAPSHOT=${SNAPSHOT:-HEAD}
if [ "$SNAPSHOT" = worktree ]; then
    tar -C "$ROOT" --exclude=./.venv --exclude=./.git --exclude=./var --exclude='*/mutants' \
        --exclude='*/__pycache__' --exclude=./.mypy_cache --exclude=./.ruff_cache \
        --exclude=./.pytest_cache -cf - . | tar -C "$WORK" -xf -
else
    git -C "$ROOT" archive "$SNAPSHOT" | tar -C "$WORK" -xf -
fi
# OVERLAY="path ...": files of the work tree laid over a committed snapshot (tests in progress)
for path in ${OVERLAY:-}; do
    mkdir -p "$WORK/$(dirname "$path")"
    cp "$ROOT/$path" "$WORK/$path"
done
(cd "$WORK" && cp -r contracts/src/cungdan_contracts services/*/src/cungdan_* src/)
# The tests that exercise the two modules (MUTMUT_TESTS="tests/unit" takes every unit test:
# mutmut runs them twice in one process, which a test relying on a fresh process fails).
MUTMUT_TESTS=${MUTMUT_TESTS:-tests/unit/test_quantities.py tests/unit/test_validation.py
    tests/unit/test_contracts.py tests/unit/test_contract_properties.py
    tests/unit/test_contract_evolution.py tests/unit/test_ingest_service.py
    tests/unit/test_ingest_scope.py tests/unit/test_localities.py tests/unit/test_rollup.py}
tests=$(for t in $MUTMUT_TESTS; do printf '"%s", ' "$t"; done)
# the tests read files of the checkout (schemas, deploy/, docs/): copy them beside the mutants
also_copy=$(cd "$WORK" && shopt -s dotglob && for f in *; do [ "$f" = src ] || [ "$f" = tests ] || printf '"%s", ' "$f"; done)
cat >> "$WORK/pyproject.toml" <<TOML

[tool.mutmut]
source_paths = ["src"]
only_mutate = ["src/cungdan_contracts/quantities.py", "src/cungdan_ingest/validation.py"]
pytest_add_cli_args_test_selection = [${tests%, }]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-q"]
also_copy = [${also_copy%, }]
use_git_change_detection = false
TOML
cd "$WORK"
"$VENV/bin/mutmut" run --max-children "${MUTMUT_CHILDREN:-1}"
"$VENV/bin/mutmut" results --all true > results.txt
"$VENV/bin/python" "$ROOT/tests/mutation/score.py" results.txt "$ROOT/tests/mutation/equivalent.txt"
