// REQUIRES: cuda-toolkit
// RUN: infer-opt %s --pass-pipeline='builtin.module(nvvm-attach-target{chip=sm_90 O=3},gpu.module(convert-scf-to-cf,convert-gpu-to-nvvm),reconcile-unrealized-casts,gpu-module-to-binary{format=isa toolkit=%cuda_root})' -o %t.mlir
// RUN: FileCheck %s --check-prefix=BINARY < %t.mlir
// RUN: %python %S/extract_ptx.py %t.mlir -o %t.ptx
// RUN: FileCheck %s < %t.ptx
// RUN: FileCheck %s --check-prefix=LINKED < %t.ptx
// RUN: %ptxas -arch=sm_90 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// A hand-written kernel through the upstream NVPTX path, as infer-opt
// registers it: an RMS-style scale of rows of 128 floats, one warp per row,
// 4 floats per lane. It checks the properties the emitted kernels rely on:
// 16-byte vector loads (only with `alignment = 16`), warp shuffles, and
// libdevice linked in for math.rsqrt. gpu-module-to-binary{format=isa} without
// a toolkit still succeeds but leaves `.extern .func __nv_rsqrtf` in the PTX,
// which does not load; `toolkit=` must be set.

// The PTX is an escaped string in the gpu.binary.
// BINARY: gpu.binary @kernels
// BINARY-SAME: #nvvm.target<O = 3, chip = "sm_90">
// BINARY-SAME: assembly = "

// CHECK: .target sm_90
// CHECK-LABEL: .visible .entry rms_scale(
// CHECK: ld.global.v4.{{b32|f32}}
// CHECK-COUNT-5: shfl.sync.bfly.b32
// CHECK: rsqrt.approx.f32
// CHECK: st.global.v4.{{b32|f32}}
// CHECK: ret;

// libdevice is linked and inlined: no external __nv_* function remains, and
// nothing goes to local memory.
// LINKED-NOT: .extern
// LINKED-NOT: __nv_
// LINKED-NOT: .local

// PTXAS: Compiling entry function 'rms_scale' for 'sm_90'
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @rms_scale(%x: memref<?xf32>, %y: memref<?xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c4 = arith.constant 4 : index
      %c5 = arith.constant 5 : index
      %c1_i32 = arith.constant 1 : i32
      %c32_i32 = arith.constant 32 : i32
      %tid = gpu.thread_id x
      %bid = gpu.block_id x
      %bdim = gpu.block_dim x
      %row = arith.muli %bid, %bdim : index
      %lane = arith.addi %row, %tid : index
      %base = arith.muli %lane, %c4 : index
      %v = vector.load %x[%base] {alignment = 16 : i64} : memref<?xf32>, vector<4xf32>
      %sq = arith.mulf %v, %v : vector<4xf32>
      %part = vector.reduction <add>, %sq : vector<4xf32> into f32
      %sum = scf.for %i = %c0 to %c5 step %c1 iter_args(%acc = %part) -> (f32) {
        %i32 = arith.index_cast %i : index to i32
        %offset = arith.shli %c1_i32, %i32 : i32
        %other, %valid = gpu.shuffle xor %acc, %offset, %c32_i32 : f32
        %next = arith.addf %acc, %other : f32
        scf.yield %next : f32
      }
      %inv_n = arith.constant 7.812500e-03 : f32
      %eps = arith.constant 9.99999974E-6 : f32
      %mean = arith.mulf %sum, %inv_n : f32
      %biased = arith.addf %mean, %eps : f32
      %inv = math.rsqrt %biased : f32
      %scale = vector.broadcast %inv : f32 to vector<4xf32>
      %out = arith.mulf %v, %scale : vector<4xf32>
      vector.store %out, %y[%base] {alignment = 16 : i64} : memref<?xf32>, vector<4xf32>
      gpu.return
    }
  }
}
