// RUN: infer-opt --convert-decode-to-gpu %s | FileCheck %s

// rms_norm: one block per row; each of the 256 threads holds 2 groups of 8
// elements in registers between the reduction and the write.

// CHECK-LABEL: func.func @norm
// CHECK: decode.rms_norm {{.*}}decode.launches = [{args = ["operand0", "operand1", "result0"], block = array<i64: 256, 1, 1>, grid = array<i64: 1, 1, 1>, grid_scale = ["tokens", "one", "one"], kernel = @decode_kernels::@rms_norm_0, max_tokens = 0 : i64
// CHECK: decode.rms_norm {{.*}}block = array<i64: 128, 1, 1>, {{.*}}kernel = @decode_kernels::@rms_norm_1,
func.func @norm(%x: tensor<?x4096xbf16>, %y: tensor<?x1000xbf16>) -> (tensor<?x4096xbf16>, tensor<?x1000xbf16>) {
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %h = decode.weight ["h"] : tensor<1000xbf16>
  %0 = decode.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x4096xbf16>, tensor<4096xbf16>
  %1 = decode.rms_norm %y, %h {epsilon = 1.0e-06 : f32} : tensor<?x1000xbf16>, tensor<1000xbf16>
  return %0, %1 : tensor<?x4096xbf16>, tensor<?x1000xbf16>
}

// CHECK-LABEL: gpu.func @rms_norm_0(
// CHECK-SAME: workgroup(%[[SCRATCH:.*]] : memref<8xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64})
// CHECK-COUNT-2: vector.load %arg0{{.*}} {alignment = 16 : i64} : memref<16777216x4096xbf16>, vector<8xbf16>
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[SCRATCH]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[SCRATCH]]
// CHECK-COUNT-3: gpu.shuffle  xor
// CHECK: math.rsqrt
// The normalized row is rounded to bf16 before the weight (LlamaRMSNorm).
// CHECK: arith.truncf {{.*}} : vector<8xf32> to vector<8xbf16>
// CHECK: arith.extf {{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: vector.load %arg1
// CHECK: vector.store {{.*}} %arg2
// CHECK-NOT: scf.if
// CHECK: gpu.return

// 125 groups over 128 threads: the tail group is masked.
// CHECK-LABEL: gpu.func @rms_norm_1(
// CHECK: arith.select
// CHECK: scf.if
// CHECK: vector.store
