#!/bin/bash
# test_older_isa.sh - the numerical tests again with the CPU libraries held
# to the next older instruction set than this machine's (AVX-512 machine:
# AVX2 / Haswell; AVX2: AVX / Sandybridge; AVX: SSE4.1 / Nehalem), so that
# the kernels CI does not otherwise reach are checked too. Each test point
# of each test is one point here, named "TEST: ...". Opt-in, as it doubles
# their time: DLT_TEST_OLDER_ISA=1 (.ci/run sets it).
. "$(dirname "$0")/lib.sh"
[ "${DLT_TEST_OLDER_ISA:-0}" = 1 ] ||
    skip_all "the numerical tests under an older ISA run only with DLT_TEST_OLDER_ISA=1 (.ci/run sets it)"

# The tests it repeats (Makefile.am's TESTS names; DLT_OLDER_ISA_TESTS: others).
NUMERICAL=${DLT_OLDER_ISA_TESTS:-"tests/test_layers tests/test_nets tests/test_stream tests/test_mpi_equiv.sh
  tests/test_dist_equiv.sh tests/test_resume.sh tests/test_stream_train.sh"}
# test_layers stands for the layer tests, one program per layer type in tests/layers/.
if [ -d "$top_builddir/tests/layers" ]; then
    split=$(cd "$top_builddir" && ls tests/layers/test_* 2> /dev/null | grep -v '\.\(o\|c\|h\|log\|trs\)$' | tr '\n' ' ')
    NUMERICAL=${NUMERICAL/tests\/test_layers/$split}
fi

flags=$(grep -m1 '^flags' /proc/cpuinfo 2> /dev/null)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
if has avx512f; then
    native=AVX-512 isa=AVX2 core=Haswell
elif has avx2; then
    native=AVX2 isa=AVX core=Sandybridge
elif has avx; then
    native=AVX isa=SSE41 core=Nehalem
else
    skip_all "this CPU has no AVX: there is no older ISA both oneDNN and OpenBLAS offer"
fi
# The user's own forcing wins over ours (and says so in the log).
export ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-$isa}" OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-$core}"
# Shell tests work in tests/tmp/NAME-older-isa (tests/lib.sh), so that this
# runs beside the first run of the same tests under make -j.
export DLT_TEST_TMP_SUFFIX=-older-isa
echo "# machine: $native; forced: ONEDNN_MAX_CPU_ISA=$ONEDNN_MAX_CPU_ISA OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"

# Whether the forcing took effect is checked from the first test program
# that logs "# cpu:", what the libraries report (src/core/cpu_isa.c;
# tests/layers/test_conv does), and from oneDNN's own verbose line (that
# program runs with ONEDNN_VERBOSE=1).
lc() { echo "$1" | tr '[:upper:]' '[:lower:]'; }
forced_checked=0
check_forced() { # that program's output
    local line got_core got_isa verbose
    line=$(grep -m1 '^# cpu:' "$1")
    echo "# older ISA run: ${line#\# cpu: }"
    got_core=$(echo "$line" | sed -n 's/.*OpenBLAS core \([^,]*\),.*/\1/p')
    got_isa=$(echo "$line" | sed -n 's/.*oneDNN ISA \([^ ]*\).*/\1/p')
    check "OpenBLAS runs the forced core $OPENBLAS_CORETYPE (openblas_get_corename: '$got_core')" \
        [ "$(lc "$got_core")" = "$(lc "$OPENBLAS_CORETYPE")" ]
    if [ "$got_isa" = none ]; then
        ok "# SKIP oneDNN's ISA: this build has no oneDNN"
        return
    fi
    check "oneDNN runs the forced ISA $ONEDNN_MAX_CPU_ISA (dnnl_get_effective_cpu_isa: '$got_isa')" \
        [ "$got_isa" = "$(lc "$ONEDNN_MAX_CPU_ISA")" ]
    verbose=$(grep -m1 'verbose,info,cpu,isa:' "$1")
    echo "# oneDNN says: ${verbose#*isa:}"
}

# Each test's TAP, renumbered into ours: points keep their directives
# (# SKIP, # TODO); a test skipped whole is one SKIP point; a test that
# ends badly without a failed point is one failed point.
for t in $NUMERICAL; do
    name=$(basename "$t" .sh)
    prog="$top_builddir/$t"
    [ -x "$prog" ] || prog="$top_srcdir/$t"
    if [ ! -x "$prog" ]; then
        fail "$name: $t not found (not built?)"
        continue
    fi
    out="$WORK/$name.out"
    t0=$(date +%s)
    case "$t" in
    *.sh) "$prog" > "$out" 2> "$out.err" ;;
    *) # tmp files under WORK; oneDNN's ISA line until the check is done
        (cd "$WORK" && [ "$forced_checked" = 0 ] && export ONEDNN_VERBOSE=1
            top_builddir="$WORK" "$prog") > "$out" 2> "$out.err" ;;
    esac
    rc=$?
    if [ "$forced_checked" = 0 ] && grep -q '^# cpu:' "$out"; then
        check_forced "$out"
        forced_checked=1
    fi
    nfail=0 npoints=0
    while IFS= read -r l; do
        case "$l" in
        "ok "* | "not ok "*)
            npoints=$((npoints + 1))
            res=${l%%ok *}ok
            rest=$(echo "${l#*ok }" | sed 's/^[0-9]*//; s/^ *-\{0,1\} *//')
            if [ "$res" = "not ok" ]; then
                nfail=$((nfail + 1))
                fail "$name: $rest"
            else
                case "$rest" in
                "# "*) ok "$name $rest" ;; # "ok N # SKIP reason": keep the directive
                *) ok "$name: $rest" ;;
                esac
            fi
            ;;
        "1..0"*"# SKIP"* | "1..0"*"# skip"*)
            npoints=$((npoints + 1))
            ok "# SKIP $name: ${l#*SKIP}"
            ;;
        "Bail out!"*) nfail=$((nfail + 1)); fail "$name: $l" ;;
        "#"*) echo "# $name: ${l#\#}" ;;
        esac
    done < "$out"
    if [ "$rc" -eq 77 ] && [ "$npoints" -eq 0 ]; then
        ok "# SKIP $name: exit status 77"
    elif [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
        fail "$name: exited with status $rc after $npoints points"
        diag_file "$out" 20
        diag_file "$out.err" 20
    fi
    echo "# $name: $npoints points in $(($(date +%s) - t0)) s"
done
[ "$forced_checked" = 1 ] ||
    fail "no test program logged '# cpu:' (tests/layers/test_conv does): the forced ISA is unchecked"
done_testing
