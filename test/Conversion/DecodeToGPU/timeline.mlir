// RUN: infer-opt --convert-decode-to-gpu=timeline=1 %s | FileCheck %s
// RUN: infer-opt --convert-decode-to-gpu %s | FileCheck %s --check-prefix=OFF
// RUN: infer-opt %s --infer-decode-to-cuda-pipeline="format=isa timeline=1" | FileCheck %s --check-prefix=PTX

// `timeline`: every kernel takes two more parameters, its slot (`launch`,
// set by the runtime) and the `timeline` buffer, and thread 0 of each block
// keeps %globaltimer there by atomic max: ~start (so the earliest block wins)
// before the wait for the previous kernel, and the end before it returns.

// CHECK-LABEL: func.func @norm
// CHECK: decode.launches = [{args = ["operand0", "operand1", "result0", "launch", "timeline"]
// CHECK-LABEL: gpu.func @rms_norm_0(
// CHECK-SAME: %[[SLOT:[^:]*]]: i32, %[[BUF:[^:]*]]: memref<16777216xi64> {llvm.noalias})
// CHECK: scf.if
// CHECK: %[[START:.*]] = nvvm.read.ptx.sreg.globaltimer : i64
// CHECK: %[[NOT:.*]] = arith.xori %[[START]], %{{.*}} : i64
// CHECK: arith.index_castui %[[SLOT]]
// CHECK: memref.atomic_rmw maxu %[[NOT]], %[[BUF]]
// CHECK: nvvm.griddepcontrol wait
// CHECK: scf.if
// CHECK: %[[END:.*]] = nvvm.read.ptx.sreg.globaltimer : i64
// CHECK-NEXT: arith.index_castui %[[SLOT]]
// CHECK: memref.atomic_rmw maxu %[[END]], %[[BUF]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.return

// OFF-LABEL: func.func @norm
// OFF: args = ["operand0", "operand1", "result0"]
// OFF-NOT: globaltimer

// PTX: mov.u64 \09%rd[[T0:[0-9]+]], %globaltimer;\0A\09not.b64
// PTX: atom.global.max.u64 \09%rd{{[0-9]+}}, [%rd[[B:[0-9]+]]], %rd
// PTX: mov.u64 \09%rd[[T1:[0-9]+]], %globaltimer;
// PTX: atom.global.max.u64 \09%rd{{[0-9]+}}, [%rd[[B]]+8], %rd[[T1]];
func.func @norm(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %0 = decode.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x4096xbf16>, tensor<4096xbf16>
  return %0 : tensor<?x4096xbf16>
}
