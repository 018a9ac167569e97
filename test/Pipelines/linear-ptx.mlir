// REQUIRES: cuda-toolkit
// RUN: infer-opt --infer-decode-to-cuda-pipeline="format=isa optimize=false toolkit=%cuda_root" %s -o %t.mlir
// RUN: FileCheck %s --check-prefix=PLAN < %t.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="format=bin optimize=false toolkit=%cuda_root" %s | FileCheck %s --check-prefix=BIN

// The launch plan survives the lowering; the kernels become one gpu.binary.
// PLAN: decode.linear {{.*}}decode.launches = [{{.*}}kernel = @decode_kernels::@linear_gemv_0, max_tokens = 1
// PLAN-SAME: kernel = @decode_kernels::@linear_gemv_1, max_tokens = 8
// PLAN-SAME: kernel = @decode_kernels::@linear_mma_2, max_tokens = 64
// PLAN-SAME: kernel = @decode_kernels::@linear_reduce_3, max_tokens = 64
// PLAN: gpu.binary @decode_kernels
// BIN: gpu.binary @decode_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90a">, properties = {{.*}}, bin = "\7FELF

// PTX: .target sm_90a
// 1-token GEMV: 16-byte weight loads (read-only path), x from shared memory,
// butterfly reductions, one bf16 store per output. The first group of 8
// weight loads goes out before x is staged (gemv-early-slabs), and before
// the wait for the previous kernel (programmatic dependent launch).
// PTX-LABEL: .visible .entry linear_gemv_0(
// PTX: griddepcontrol.launch_dependents;
// PTX-COUNT-8: ld.global.nc.v4.b32
// PTX: griddepcontrol.wait;
// PTX: bar.sync 0;
// PTX: st.shared.v4.b32
// PTX: bar.sync 0;
// PTX: ld.shared.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX: st.global.b16
// PTX-LABEL: .visible .entry linear_gemv_1(
// PTX-DAG: ld.global.nc.v4.b32
// PTX-DAG: shfl.sync.bfly.b32
// Tensor cores for the 64-token bucket, partials to the workspace.
// PTX-LABEL: .visible .entry linear_mma_2(
// PTX-DAG: ld.global.nc.v4.b32
// PTX-DAG: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-DAG: st.global.b32
// PTX-LABEL: .visible .entry linear_reduce_3(
// PTX: st.global.b16

// No kernel spills (the .local check above covers the stack).
// PTXAS-NOT: {{[1-9][0-9]*}} bytes spill
// PTXAS: Compiling entry function
// PTXAS-NOT: {{[1-9][0-9]*}} bytes spill

func.func @qkv(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 8, kind = gemv>, #decode.variant<max_tokens = 64, kind = mma>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}
