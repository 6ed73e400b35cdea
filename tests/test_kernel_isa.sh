#!/bin/bash
# test_kernel_isa.sh - dltrain's own kernels (InnerProduct's row GEMM in both forms, the
# convolution's patch and weight gradients, both direct forwards and
# col2im, the transpose they share) give the same bits on their AVX-512 and AVX2 paths,
# the convolution kernels also on their plain fmaf paths
# (ONEDNN_MAX_CPU_ISA=SSE41); the weight gradient and the forward equal one
# fmaf chain per element written in the check, the transpose moves every
# element; and ONEDNN_MAX_CPU_ISA caps them as it caps oneDNN (so that one
# variable gives an AVX-512 machine's "AVX2 setting"): tests/kernel_isa_check.
. "$(dirname "$0")/lib.sh"

prog="$top_builddir/tests/kernel_isa_check"
[ -x "$prog" ] || skip_all "tests/kernel_isa_check not built"
wg=$("$prog" | grep '^weight gradient:')
check "the convolution weight gradient equals one fmaf chain per element bit for bit ($wg)" \
    test "$wg" = "weight gradient: 0 of 33544 differ from the plain loop"
wl=$("$prog" | grep '^weight gradient in lanes:')
check "the weight gradient in position lanes equals its fmaf lanes and tree bit for bit ($wl)" \
    test "$wl" = "weight gradient in lanes: 0 of 929 differ from the plain loop"
tr=$("$prog" | grep '^transpose:')
check "the transpose moves every element and pads with zeros ($tr)" test "$tr" = "transpose: 0 of 36633 differ"
fw=$("$prog" | grep '^forward:')
check "the convolution forward equals one fmaf chain per output bit for bit ($fw)" \
    test "$fw" = "forward: 0 of 56396 differ from the plain loop"
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo; then
    rg=$("$prog" | grep '^row gemm:')
    check "InnerProduct's row GEMM (panels and rows in the lanes) equals one fmaf chain per output ($rg)" \
        test "$rg" = "row gemm: 0 of 116260 differ from the plain loop"
    fast=$(env -u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA "$prog" | grep '^path')
    plain=$(env -u DNNL_MAX_CPU_ISA ONEDNN_MAX_CPU_ISA=SSE41 "$prog")
    check "ONEDNN_MAX_CPU_ISA=SSE41 leaves the plain loops ($(echo "$plain" | grep '^path'))" \
        bash -c "echo '$plain' | grep -q '^path plain '"
    check "the plain loops give the vector paths' bits" test "${fast##* }" = "$(echo "$plain" | sed -n 's/^path .* //p')"
    check "the plain weight gradient and forward equal the fmaf chains too" \
        bash -c "echo '$plain' | grep -q '^weight gradient: 0 of 33544 ' && echo '$plain' | grep -q '^forward: 0 of 56396 ' &&
                 echo '$plain' | grep -q '^weight gradient in lanes: 0 of 929 '"
fi
if ! grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    skip "this CPU has no AVX-512: no AVX-512 path to compare with the AVX2 one"
    done_testing
fi

native=$(env -u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA "$prog" | grep '^path')
check "runs on the AVX-512 path by default ($native)" test "${native#path avx512 }" != "$native"
capped=$(env -u DNNL_MAX_CPU_ISA ONEDNN_MAX_CPU_ISA=AVX2 "$prog" | grep '^path')
check "ONEDNN_MAX_CPU_ISA=AVX2 caps it ($capped)" test "${capped#path avx2 }" != "$capped"
check "AVX-512 and AVX2 paths: the same bits (${native##* } / ${capped##* })" \
    test "${native##* }" = "${capped##* }"
old=$(env -u ONEDNN_MAX_CPU_ISA DNNL_MAX_CPU_ISA=avx2 "$prog" | grep '^path')
check "the older name DNNL_MAX_CPU_ISA caps it too ($old)" test "${old#path avx2 }" != "$old"
all=$(env -u DNNL_MAX_CPU_ISA ONEDNN_MAX_CPU_ISA=ALL "$prog" | grep '^path')
check "ONEDNN_MAX_CPU_ISA=ALL keeps AVX-512 ($all)" test "${all#path avx512 }" != "$all"
done_testing
