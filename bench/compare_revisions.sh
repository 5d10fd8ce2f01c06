#!/usr/bin/env bash
# Job overhead of another revision against the working tree, measured alternately (the machine
# is shared and noisy: a before/after pair is only fair when the runs interleave).
#
#     bench/compare_revisions.sh REVISION [RUNS=3] [ROUNDS=7]
#
# Checks REVISION out in a temporary worktree and runs today's bench_voice.py and
# bench_captioning.py (--part per-image) against its code and against the working tree's, in
# turn, RUNS times each. Uses this checkout's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
revision=${1:?give the revision to compare with, such as a commit before a change}
runs=${2:-3}
rounds=${3:-7}
here=$(pwd)
python="$here/.venv/bin/python"
other=$(mktemp -d /tmp/studio-revision-XXXXXX)
trap 'git -C "$here" worktree remove --force "$other" >/dev/null 2>&1 || true' EXIT
git worktree add --detach --force "$other" "$revision" >/dev/null
cp bench/bench_voice.py bench/bench_captioning.py "$other/bench/"
export QT_QPA_PLATFORM=offscreen

bench() {  # bench <root>: both benchmarks with the code under <root>
    (cd "$1" && PYTHONPATH="$1:$1/plugins" "$python" bench/bench_voice.py --rounds "$rounds" \
        2>&1 | grep -E "RTF|first audio|CPU")
    (cd "$1" && PYTHONPATH="$1:$1/plugins" "$python" bench/bench_captioning.py --rounds "$rounds" \
        --part per-image 2>&1 | grep -E "s/image|panel / raw")
}

for run in $(seq 1 "$runs"); do
    echo "== $revision ($run of $runs)"
    bench "$other"
    echo "== working tree ($run of $runs)"
    bench "$here"
done
