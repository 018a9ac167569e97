// REQUIRES: cuda-toolkit
// RUN: infer-opt --infer-decode-to-cuda-pipeline="format=isa optimize=false toolkit=%cuda_root" %s -o %t.mlir
// RUN: FileCheck %s --check-prefix=PLAN < %t.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="format=isa optimize=false wgmma-cp-async=1 toolkit=%cuda_root" %s -o %t.cp.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.cp.mlir -o %t.cp.ptx
// RUN: cat %t.cp.mlir %t.cp.ptx | FileCheck %s --check-prefix=CPASYNC
// RUN: not infer-opt --infer-decode-to-cuda-pipeline="chip=sm_90 format=isa optimize=false toolkit=%cuda_root" %s 2>&1 | FileCheck %s --check-prefix=SM90

// The sm_90a tensor-core linear: two warpgroups of 64 W rows; W and the
// token tile arrive by TMA (tensor-map arguments) in a ring of 64-column
// stages in dynamic shared memory.
// PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "operand2", "tma:operand0:64x64", "tma:operand1:128x64", "workspace", "tokens"], block = array<i64: 256, 1, 1>, grid = array<i64: 48, 3, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_0, max_tokens = 64 : i64, programmatic = true, shared_bytes = 99328
// PLAN-SAME: kernel = @decode_kernels::@linear_reduce_1, max_tokens = 64
// PLAN: decode.linear {{.*}}"tma:operand0:128x64", "tma:operand1:128x64"{{.*}}kernel = @decode_kernels::@linear_wgmma_2, max_tokens = 128 : i64, programmatic = true, shared_bytes = 230400

// PTX: .target sm_90a
// PTX-LABEL: .visible .entry linear_wgmma_0(
// PTX: .minnctapersm 2
// One mbarrier per slot; thread 0 arms it with both tiles' bytes and starts
// the two 2-D tensor copies, 2 stages ahead.
// PTX: mbarrier.init.shared.b64
// PTX: mbarrier.arrive.expect_tx.shared.b64
// PTX-COUNT-2: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// (LLVM lays the epilogue out before the rotated stage loop.) f32 partials.
// PTX: wgmma.wait_group.sync.aligned 0;
// PTX: st.global.b32
// 4 k16 steps per stage, K-major A and B (no transpose), one group in
// flight.
// PTX: wgmma.fence.sync.aligned;
// PTX-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, 1, 1, 0, 0;
// PTX: wgmma.commit_group.sync.aligned;
// PTX: wgmma.wait_group.sync.aligned 1;
// Wait for the stage; the norm weight scales the staged tokens, which are
// then handed back to the async proxy.
// PTX: mbarrier.try_wait.parity.shared.b64
// PTX: ld.shared.v4.b32
// PTX: st.shared.v4.b32
// PTX: fence.proxy.async.shared::cta;
// PTX: bar.sync 0;
// PTX: cp.async.bulk.tensor.2d
// PTX-LABEL: .visible .entry linear_wgmma_2(
// PTX: .minnctapersm 1
// No norm: no proxy fence.
// PTX-NOT: fence.proxy.async
// PTX: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX-NOT: fence.proxy.async
// PTX: .entry

// Without tensor maps (wgmma-cp-async), 16-byte cp.async copies feed the
// unswizzled layout (tokens past T are zero-filled: a register source size).
// CPASYNC: args = ["operand0", "operand1", "operand2", "workspace", "tokens"]
// CPASYNC-LABEL: .visible .entry linear_wgmma_0(
// CPASYNC: cp.async.cg.shared.global [{{.*}}], [{{.*}}], 16, 16;
// CPASYNC: cp.async.cg.shared.global [{{.*}}], [{{.*}}], 16, %r{{[0-9]+}};
// CPASYNC: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, 1, 1, 0, 0;
// CPASYNC: cp.async.wait_group 1;
// CPASYNC: fence.proxy.async.shared::cta;

// PTXAS-NOT: {{[1-9][0-9]*}} bytes spill
// PTXAS: Compiling entry function
// PTXAS-NOT: {{[1-9][0-9]*}} bytes spill

// SM90: error: {{.*}}wgmma{{.*}}

func.func @qkv_norm(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @down(%x: tensor<?x14336xbf16>, %r: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w residual(%r : tensor<?x4096xbf16>) {variants = [#decode.variant<max_tokens = 128, kind = wgmma>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}
