// RUN: infer-opt --convert-decode-to-gpu %s | FileCheck %s

// Row-wise kernels: grid (column blocks, rows) x 256 threads, one 16-byte
// group per thread. Row counts follow the step arguments: `tokens`
// (argument 0) has T rows, `logits_indices` (argument 6) S rows.

// CHECK-LABEL: func.func @step
// CHECK: decode.weight
// CHECK-NOT: decode.launches
// CHECK: decode.embed {{.*}}decode.launches = [{args = ["operand0", "operand1", "result0"], block = array<i64: 256, 1, 1>, grid = array<i64: 2, 1, 1>, grid_scale = ["one", "tokens", "one"], kernel = @decode_kernels::@embed_0, max_tokens = 0 : i64
// CHECK: decode.add {{.*}}kernel = @decode_kernels::@add_1,
// CHECK: decode.silu_mul {{.*}}args = ["operand0", "result0"], {{.*}}grid = array<i64: 7, 1, 1>, grid_scale = ["one", "tokens", "one"], kernel = @decode_kernels::@silu_mul_2,
// CHECK: decode.silu_mul {{.*}}args = ["operand0", "operand1", "result0"], {{.*}}kernel = @decode_kernels::@silu_mul_3,
// CHECK: decode.slice {{.*}}kernel = @decode_kernels::@slice_4,
// CHECK: decode.gather_tokens {{.*}}grid_scale = ["one", "sampled", "one"], kernel = @decode_kernels::@gather_tokens_5,
func.func @step(%tokens: tensor<?xi32>, %gu: tensor<?x28672xbf16>, %up: tensor<?x1000xbf16>,
                %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>,
                %li: tensor<?xi32>)
    -> (tensor<?x4096xbf16>, tensor<?x14336xbf16>, tensor<?x1000xbf16>, tensor<?x1024xbf16>) {
  %e = decode.weight ["embed"] : tensor<5000x4096xbf16>
  %h = decode.embed %tokens, %e : (tensor<?xi32>, tensor<5000x4096xbf16>) -> tensor<?x4096xbf16>
  %a = decode.add %h, %h : tensor<?x4096xbf16>
  %s = decode.silu_mul %gu : tensor<?x28672xbf16> -> tensor<?x14336xbf16>
  %s2 = decode.silu_mul %up, %up : tensor<?x1000xbf16>, tensor<?x1000xbf16> -> tensor<?x1000xbf16>
  %sl = decode.slice %a[1024] : tensor<?x4096xbf16> -> tensor<?x1024xbf16>
  %g = decode.gather_tokens %a[%li] : tensor<?x4096xbf16>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %g, %s, %s2, %sl : tensor<?x4096xbf16>, tensor<?x14336xbf16>, tensor<?x1000xbf16>, tensor<?x1024xbf16>
}

// CHECK-LABEL: gpu.func @embed_0(
// CHECK-SAME: %[[IDS:.*]]: memref<16777216xi32> {llvm.noalias}, %[[TABLE:.*]]: memref<5000x4096xbf16> {llvm.noalias}, %[[OUT:.*]]: memref<16777216x4096xbf16> {llvm.noalias})
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>
// CHECK: %[[ROW:.*]] = gpu.block_id  y
// CHECK: %[[ID:.*]] = memref.load %[[IDS]][%[[ROW]]]
// CHECK: %[[SRC:.*]] = arith.index_cast %[[ID]]
// CHECK: %[[V:.*]] = vector.load %[[TABLE]][%[[SRC]], %{{.*}}] {alignment = 16 : i64} : memref<5000x4096xbf16>, vector<8xbf16>
// CHECK: vector.store %[[V]], %[[OUT]][%[[ROW]], %{{.*}}] {alignment = 16 : i64}

// CHECK-LABEL: gpu.func @add_1(
// CHECK: arith.extf {{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: arith.addf {{.*}} : vector<8xf32>
// CHECK: arith.truncf {{.*}} : vector<8xf32> to vector<8xbf16>

// Packed [gate | up]: up starts 14336 columns in; 14336 = 7 x 256 x 8
// columns need no bounds check.
// CHECK-LABEL: gpu.func @silu_mul_2(
// CHECK-NOT: scf.if
// CHECK: %[[UPCOL:.*]] = arith.addi %{{.*}}, %c14336
// CHECK: vector.load %{{.*}}[%{{.*}}, %[[UPCOL]]]
// CHECK: math.exp
// CHECK: arith.truncf
// CHECK: arith.extf
// CHECK: arith.mulf

// 1000 columns: 8-element groups still divide the row; 125 groups leave
// threads of the block idle.
// CHECK-LABEL: gpu.func @silu_mul_3(
// CHECK: %[[COL:.*]] = arith.muli %{{.*}}, %c8
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[COL]], %c1000
// CHECK: scf.if %[[IN]]
// CHECK: vector.load {{.*}} vector<8xbf16>

// CHECK-LABEL: gpu.func @slice_4(
// CHECK: arith.addi %{{.*}}, %c1024
// CHECK: vector.load

// CHECK-LABEL: gpu.func @gather_tokens_5(
// CHECK: memref.load
// CHECK: arith.index_cast
// CHECK: vector.load
