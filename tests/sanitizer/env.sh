# env.sh - sanitizer settings for the ASan+UBSan test run (.ci/run) and the
# fuzz harnesses (tests/fuzz/run.sh); source it. Each suppression in the
# files named here says why it exists.
#   halt_on_error / -fno-sanitize-recover: the first finding stops the
#     program, so a test fails instead of printing a line nobody reads.
#   detect_leaks=0: the suite is not leak-clean (programs exit through paths
#     that keep what the OS frees anyway); LSan would fail it on those.
#   abort_on_error=0, exitcode: a finding exits 1 (a test failure), not a
#     core dump.
_dlt_san_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=0:abort_on_error=0:symbolize=1:detect_stack_use_after_return=0:suppressions=$_dlt_san_dir/asan.supp${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$_dlt_san_dir/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
unset _dlt_san_dir
