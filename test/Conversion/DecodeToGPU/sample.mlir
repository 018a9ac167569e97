// RUN: infer-opt --convert-decode-to-gpu %s | FileCheck %s

// One 1024-thread block per sampled row (argument 6 onwards count S rows).

// CHECK-LABEL: func.func @sample
// CHECK: decode.gather_tokens {{.*}}grid_scale = ["one", "sampled", "one"]
// CHECK: decode.sample {{.*}}decode.launches = [{args = ["operand0", "operand1", "operand2", "operand3", "operand4", "result0"], block = array<i64: 1024, 1, 1>, grid = array<i64: 1, 1, 1>, grid_scale = ["sampled", "one", "one"], kernel = @decode_kernels::@sample_1, max_tokens = 0 : i64
func.func @sample(%tokens: tensor<?xi32>, %positions: tensor<?xi32>, %slots: tensor<?xi32>,
                  %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>,
                  %li: tensor<?xi32>, %temperature: tensor<?xf32>, %top_k: tensor<?xi32>,
                  %top_p: tensor<?xf32>, %seeds: tensor<?xi64>, %logits: tensor<?x128256xf32>) -> tensor<?xi32> {
  %0 = decode.gather_tokens %logits[%li] : tensor<?x128256xf32>, tensor<?xi32> -> tensor<?x128256xf32>
  %1 = decode.sample %0, %temperature, %top_k, %top_p, %seeds : tensor<?x128256xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
  return %1 : tensor<?xi32>
}

// CHECK-LABEL: gpu.func @sample_1(
// CHECK-SAME: memref<16777216x128256xf32>
// CHECK-SAME: memref<16777216xi64>
// CHECK-SAME: %[[TOK:[a-z0-9]+]]: memref<16777216xi32> {llvm.noalias})
// CHECK-SAME: workgroup(
// Greedy rows: one argmax pass; candidates: one pass per pick. A pass
// iteration issues four 16-byte loads of the row before its first compare.
// CHECK: scf.if
// CHECK: scf.for
// CHECK-COUNT-4: vector.load %{{.*}} : memref<16777216x128256xf32>, vector<4xf32>
// CHECK-NOT: vector.load
// CHECK: arith.cmpf ogt
// CHECK: gpu.shuffle  xor
// Top-k rows: the warps sort their threads' best elements by shuffles for a
// threshold, one more pass collects what reaches it (a shared counter), a
// bitonic sort in shared memory orders them; one pass per pick only where
// too many reach it.
// CHECK: scf.if
// CHECK: scf.for
// CHECK: arith.divf
// CHECK: gpu.shuffle  xor
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: memref.atomic_rmw addi
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: scf.for
// CHECK: scf.for
// SplitMix64 of the row's seed, then the draw.
// CHECK: arith.constant -4658895280553007687 : i64
// CHECK: math.exp
// Rows left to the host sampler get -1.
// CHECK: arith.constant -1 : i32
// CHECK: gpu.return
