// REQUIRES: cuda-toolkit
// RUN: infer-opt --infer-decode-to-cuda-pipeline="format=isa optimize=false toolkit=%cuda_root" %s -o %t.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.mlir -o %t.ptx
// RUN: FileCheck %s < %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.ptx

// Norm, elementwise and sampling kernels down to PTX: 16-byte accesses,
// butterfly reductions, libdevice linked (no .extern functions left).

// CHECK-NOT: .extern
// CHECK-LABEL: .visible .entry embed_0(
// CHECK: ld.global.nc.v4.b32
// CHECK: st.global.v4.b32
// CHECK-LABEL: .visible .entry rms_norm_1(
// CHECK: ld.global.nc.v4.b32
// CHECK: shfl.sync.bfly.b32
// CHECK: bar.sync 0
// CHECK: rsqrt.approx
// CHECK: st.global.v4.b32
// CHECK-LABEL: .visible .entry silu_mul_2(
// CHECK: ld.global.nc.v4.b32
// CHECK: ex2.approx
// CHECK: st.global.v4.b32
// CHECK-LABEL: .visible .entry add_3(
// CHECK: add.rn.bf16x2
// CHECK: st.global.v4.b32
// CHECK-LABEL: .visible .entry gather_tokens_4(
// CHECK-LABEL: .visible .entry sample_5(
// CHECK: shfl.sync.bfly.b32
// CHECK: div.rn.f32
// CHECK: mul.lo.s64
// CHECK: st.global.b32

// PTXAS-NOT: {{[1-9][0-9]*}} bytes spill

func.func @step(%tokens: tensor<?xi32>, %gu: tensor<?x28672xbf16>, %slots: tensor<?xi32>,
                %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>,
                %li: tensor<?xi32>, %temperature: tensor<?xf32>, %top_k: tensor<?xi32>,
                %top_p: tensor<?xf32>, %seeds: tensor<?xi64>, %logits: tensor<?x128256xf32>)
    -> (tensor<?x4096xbf16>, tensor<?x14336xbf16>, tensor<?xi32>) {
  %e = decode.weight ["embed"] : tensor<128256x4096xbf16>
  %g = decode.weight ["norm"] : tensor<4096xbf16>
  %h = decode.embed %tokens, %e : (tensor<?xi32>, tensor<128256x4096xbf16>) -> tensor<?x4096xbf16>
  %n = decode.rms_norm %h, %g {epsilon = 1.0e-05 : f32} : tensor<?x4096xbf16>, tensor<4096xbf16>
  %s = decode.silu_mul %gu : tensor<?x28672xbf16> -> tensor<?x14336xbf16>
  %a = decode.add %n, %h : tensor<?x4096xbf16>
  %l = decode.gather_tokens %logits[%li] : tensor<?x128256xf32>, tensor<?xi32> -> tensor<?x128256xf32>
  %t = decode.sample %l, %temperature, %top_k, %top_p, %seeds : tensor<?x128256xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
  return %a, %s, %t : tensor<?x4096xbf16>, tensor<?x14336xbf16>, tensor<?xi32>
}
