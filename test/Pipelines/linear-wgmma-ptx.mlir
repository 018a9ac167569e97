// REQUIRES: cuda-toolkit
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-weights-on-n=0 toolkit=%cuda_root" %s -o %t.mlir
// RUN: FileCheck %s --check-prefix=PLAN < %t.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.mlir -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %ptxas -arch=sm_90a -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="format=isa optimize=false wgmma-weights-on-n=0 toolkit=%cuda_root" %s -o %t.serial.mlir
// RUN: FileCheck %s --check-prefix=SERIAL-PLAN < %t.serial.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.serial.mlir -o %t.serial.ptx
// RUN: FileCheck %s --check-prefix=SERIAL < %t.serial.ptx
// RUN: %ptxas -arch=sm_90a -v %t.serial.ptx -o %t.serial.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.serial.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-weights-on-n=0 wgmma-cluster-reduce=0 toolkit=%cuda_root" %s -o %t.noclu.mlir
// RUN: FileCheck %s --check-prefix=NOCLU-PLAN < %t.noclu.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.noclu.mlir -o %t.noclu.ptx
// RUN: FileCheck %s --check-prefix=NOCLU < %t.noclu.ptx
// RUN: %ptxas -arch=sm_90a -v %t.noclu.ptx -o %t.noclu.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.noclu.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-weights-on-n=0 wgmma-deep-ring=0 toolkit=%cuda_root" %s | FileCheck %s --check-prefix=NODEEP
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-weights-on-n=0 wgmma-early-stages=0 toolkit=%cuda_root" %s -o %t.e0.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.e0.mlir -o %t.e0.ptx
// RUN: FileCheck %s --check-prefix=EARLY0 < %t.e0.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-weights-on-n=0 wgmma-wait-groups=0 toolkit=%cuda_root" %s -o %t.w0.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.w0.mlir -o %t.w0.ptx
// RUN: FileCheck %s --check-prefix=WAIT0 < %t.w0.ptx
// RUN: not infer-opt --convert-decode-to-gpu=wgmma-wait-groups=2 %s 2>&1 | FileCheck %s --check-prefix=BADWAIT
// RUN: not infer-opt --convert-decode-to-gpu=wgmma-weights-on-n=2 %s 2>&1 | FileCheck %s --check-prefix=BADONN
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-weights-on-n=0 wgmma-cp-async=1 toolkit=%cuda_root" %s -o %t.cp.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.cp.mlir -o %t.cp.ptx
// RUN: cat %t.cp.mlir %t.cp.ptx | FileCheck %s --check-prefix=CPASYNC
// RUN: not infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 chip=sm_90 format=isa optimize=false wgmma-weights-on-n=0 toolkit=%cuda_root" %s 2>&1 | FileCheck %s --check-prefix=SM90
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false toolkit=%cuda_root" %s -o %t.auto.mlir
// RUN: FileCheck %s --check-prefix=AUTO < %t.auto.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.auto.mlir -o %t.auto.ptx
// RUN: FileCheck %s --check-prefix=GRID < %t.auto.ptx
// RUN: %ptxas -arch=sm_90a -v %t.auto.ptx -o %t.auto.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.auto.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-grid-sums=2 toolkit=%cuda_root" %s -o %t.own.mlir
// RUN: FileCheck %s --check-prefix=OWN-PLAN < %t.own.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.own.mlir -o %t.own.ptx
// RUN: FileCheck %s --check-prefix=OWN < %t.own.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-grid-sums=0 toolkit=%cuda_root" %s | FileCheck %s --check-prefix=STAGESUMS
// RUN: not infer-opt --convert-decode-to-gpu=wgmma-grid-sums=3 %s 2>&1 | FileCheck %s --check-prefix=BADSUMS
// RUN: infer-opt --infer-decode-to-cuda-pipeline="wgmma-serial-reduce=0 format=isa optimize=false wgmma-weights-on-n=1 toolkit=%cuda_root" %s -o %t.onn.mlir
// RUN: FileCheck %s --check-prefix=ONN-PLAN < %t.onn.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.onn.mlir -o %t.onn.ptx
// RUN: FileCheck %s --check-prefix=ONN < %t.onn.ptx
// RUN: %ptxas -arch=sm_90a -v %t.onn.ptx -o %t.onn.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.onn.ptx
// RUN: infer-opt --infer-decode-to-cuda-pipeline="format=isa optimize=false wgmma-multicast=1 toolkit=%cuda_root" %s -o %t.mc.mlir
// RUN: FileCheck %s --check-prefix=MCAST-PLAN < %t.mc.mlir
// RUN: %python %infer_src/utils/extract-ptx.py %t.mc.mlir -o %t.mc.ptx
// RUN: FileCheck %s --check-prefix=MCAST < %t.mc.ptx
// RUN: %ptxas -arch=sm_90a -v %t.mc.ptx -o %t.mc.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: not grep -q "\.local" %t.mc.ptx

// The sm_90a tensor-core linear: two warpgroups of 64 W rows; W and the
// token tile arrive by TMA (tensor-map arguments) in a ring of 64-column
// stages in dynamic shared memory. The K splits of a row block (grid y) form
// one thread-block cluster and reduce in distributed shared memory: one
// launch, writing the result, no workspace. At 128 tokens a shape with
// fewer 128-row blocks than SMs (down) takes one warpgroup (64 rows) per
// block; where a K split then gives every SM one block, that block takes
// the whole shared memory (a deep ring) and keeps the workspace and the
// reduce launch (faster end to end than two clustered blocks per SM).
// PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "operand2", "tma:operand0:64x64", "tma:operand1:128x64", "result0", "tokens"], block = array<i64: 256, 1, 1>, grid = array<i64: 48, 3, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_cluster_0, max_tokens = 64 : i64, programmatic = true, shared_bytes = 99328 : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 0 : i64}]
// PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "tma:operand0:128x64", "tma:operand1:64x64", "workspace", "tokens"], block = array<i64: 128, 1, 1>, grid = array<i64: 64, 2, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_1, max_tokens = 128 : i64, programmatic = true, shared_bytes = 197632 : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 32776 : i64}, {{.*}}kernel = @decode_kernels::@linear_reduce_2, max_tokens = 128
// Without a K split the block applies the epilogue alone.
// PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "operand2", "tma:operand0:64x64", "tma:operand1:128x64", "result0", "tokens"], block = array<i64: 256, 1, 1>, grid = array<i64: 224, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_3, max_tokens = 64 : i64, programmatic = true, shared_bytes = 99328 : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 0 : i64}]
// PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "tma:operand0:128x64", "tma:operand1:128x64", "result0", "tokens"]{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_4, max_tokens = 128
// PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "tma:operand0:64x64", "tma:operand1:64x64", "result0", "tokens"]{{.*}}grid = array<i64: 224, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_5, max_tokens = 64
// PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "operand2", "tma:operand0:64x64", "tma:operand1:64x64", "result0", "tokens"], block = array<i64: 128, 1, 1>, grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_6, max_tokens = 128 : i64, programmatic = true, shared_bytes = 230400 : i64, workspace_bytes = 0
// wgmma-deep-ring=0: the 128-token down projection keeps two blocks per SM
// and reduces its 3 K splits in a cluster instead.
// NODEEP: decode.linear {{.*}}block = array<i64: 128, 1, 1>, grid = array<i64: 64, 3, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_cluster_1, max_tokens = 128 : i64, programmatic = true, shared_bytes = 99328

// wgmma-weights-on-n: the tokens are the MMA's M (64 per warpgroup) and
// the block's W rows its N, sized so that the grid is one wave of 128
// blocks: 224 rows (gate_up; two 112-row boxes when gated), 32 rows (o).
// Shapes with a norm weight or K > 8192 keep the W-as-M plans.
// ONN-PLAN: decode.linear {{.*}}kernel = @decode_kernels::@linear_wgmma_cluster_0, max_tokens = 64
// ONN-PLAN: decode.linear {{.*}}kernel = @decode_kernels::@linear_wgmma_1, max_tokens = 128
// ONN-PLAN: decode.linear {{.*}}"tma:operand0:64x64", "tma:operand1:224x64", "result0", "tokens"], block = array<i64: 128, 1, 1>, grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_3, max_tokens = 64
// ONN-PLAN: decode.linear {{.*}}"tma:operand0:128x64", "tma:operand1:224x64", "result0", "counters", "tokens"], block = array<i64: 256, 1, 1>, counter_words_per_token = 2 : i64, grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_4, max_tokens = 128
// ONN-PLAN: decode.linear {{.*}}"tma:operand1:112x64"{{.*}}grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_5, max_tokens = 64
// ONN-PLAN: decode.linear {{.*}}"tma:operand0:128x64", "tma:operand1:32x64"{{.*}}grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_6, max_tokens = 128
// By default (wgmma-weights-on-n=-1) only the shapes measured faster take
// it: silu_mul's gate/up at 16 and at 128 or more tokens, and every shape at
// 256. At 64 tokens, an
// RMS-scaled linear, o and the bias-only gate_up keep W on M.
// AUTO: decode.linear {{.*}}kernel = @decode_kernels::@linear_wgmma_cluster_0, max_tokens = 64
// AUTO: decode.linear {{.*}}kernel = @decode_kernels::@linear_wgmma_1, max_tokens = 128
// AUTO: decode.linear {{.*}}"tma:operand1:128x64"{{.*}}grid = array<i64: 224, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_3, max_tokens = 64
// An RMS-scaled linear at 128 tokens takes it too, its sums of x^2 taken
// once per token by the grid (workspace, counters) instead of per stage.
// AUTO: decode.linear {{.*}}["operand0", "tma:operand0:128x64", "tma:operand1:224x64", "result0", "counters", "tokens"], block = array<i64: 256, 1, 1>, counter_words_per_token = 2 : i64, grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_4, max_tokens = 128 : i64, programmatic = true, shared_bytes = {{[0-9]+}} : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 0 : i64}]
// AUTO: decode.linear {{.*}}"tma:operand1:64x64"{{.*}}grid = array<i64: 224, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_5, max_tokens = 64
// AUTO: decode.linear {{.*}}"tma:operand1:64x64"{{.*}}grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_6, max_tokens = 128
// AUTO: decode.linear {{.*}}"tma:operand0:128x64", "tma:operand1:112x64", "result0", "counters", "tokens"], block = array<i64: 256, 1, 1>, counter_words_per_token = 2 : i64, grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_7, max_tokens = 128
// At 256 tokens every linear it applies to takes it: o as two token tiles
// of 128 (two warpgroups of 64 tokens) over 64-row blocks.
// AUTO: decode.linear {{.*}}"tma:operand0:128x64", "tma:operand1:64x64"{{.*}}block = array<i64: 256, 1, 1>, grid = array<i64: 128, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_8, max_tokens = 256
// gate_up at 256: one wave of both token tiles would need 435-row tiles
// (over the MMA's 256), so each token tile gets a wave of 128 blocks of 224
// rows (two 112-row boxes).
// AUTO: decode.linear {{.*}}"tma:operand0:128x64", "tma:operand1:112x64"{{.*}}block = array<i64: 256, 1, 1>, counter_words_per_token = 2 : i64, grid = array<i64: 256, 1, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_9, max_tokens = 256
// The grid's sums: each thread's 16-byte chunks of the block's token are
// loaded right after the wait, before the x stages' copies; at stage 4
// (after the stage's wgmmas are issued) read through volatile movs,
// squared and shuffle-reduced; at stage 5 published as a `counters` word
// (then membar.gl); a few stages before the end the tile's words arrive by
// cp.async (at L2). The epilogue sums any still missing itself; the last
// block out (an atomic count) zeroes the words. No mma.sync sums.
// GRID-LABEL: .visible .entry linear_wgmma_direct_4(
// GRID-NOT: mma.sync
// GRID: griddepcontrol.wait;
// GRID-NEXT: ld.global.nc.v4.b32
// GRID-DAG: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// GRID-DAG: cp.async.cg.shared.global {{.*}}, 16, %r{{[0-9]+}};
// GRID-DAG: cp.async.wait_group 0;
// GRID-DAG: mov.b32 %r{{[0-9]+}}, %r{{[0-9]+}};
// GRID-DAG: shfl.sync.bfly.b32
// GRID-DAG: membar.gl;
// GRID-DAG: atom.global.add.u32 {{.*}}, 1;
// GRID-DAG: st.global.b32 {{.*}}, 0;
// GRID-NOT: mma.sync
// GRID-LABEL: .visible .entry linear_wgmma_direct_5(
// wgmma-grid-sums=2 (a test of the fallback): every block sums its tile's
// tokens itself; no counters, no atomics.
// OWN-PLAN: decode.linear {{.*}}["operand0", "tma:operand0:128x64", "tma:operand1:224x64", "result0", "tokens"]{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_4, max_tokens = 128
// OWN-LABEL: .visible .entry linear_wgmma_direct_4(
// OWN-NOT: atom.global
// OWN: ld.global.nc.v4.b32
// OWN: shfl.sync.bfly.b32
// OWN-NOT: atom.global
// OWN-LABEL: .visible .entry linear_wgmma_direct_5(
// wgmma-grid-sums=0: the sums per stage cost this plan more than it gains,
// so the RMS-scaled linear at 128 tokens keeps W on M.
// STAGESUMS: decode.linear {{.*}}"tma:operand1:128x64"{{.*}}kernel = @decode_kernels::@linear_wgmma_direct_4, max_tokens = 128
// BADSUMS: wgmma-grid-sums 0, 1 or 2
// ONN-LABEL: .visible .entry linear_wgmma_direct_3(
// ONN: wgmma.mma_async.sync.aligned.m64n224k16.f32.bf16.bf16
// ONN-LABEL: .visible .entry linear_wgmma_direct_6(
// ONN: wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16

// PTX: .target sm_90a
// PTX-LABEL: .visible .entry linear_wgmma_cluster_0(
// PTX: .minnctapersm 2
// PTX: .explicitcluster
// PTX: .reqnctapercluster 1, 3, 1
// PTX: mbarrier.init.shared.b64
// Every rank's staged tile and sums of x^2, as shared::cluster addresses.
// PTX-COUNT-6: mapa.shared::cluster.u64
// End of a token tile: the ring goes back to TMA, and no block leaves while
// the cluster may still read it. (LLVM lays the epilogue out before the
// rotated stage loop.)
// PTX: fence.proxy.async.shared::cta;
// PTX-NEXT: barrier.cluster.arrive.aligned;
// PTX-NEXT: barrier.cluster.wait.aligned;
// PTX: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// PTX: wgmma.wait_group.sync.aligned 0;
// The norm's sums of x^2, then the f32 tile staged in the ring.
// PTX: atom.shared.add.f32
// PTX: st.shared.b32
// PTX: barrier.cluster.arrive.aligned;
// PTX-NEXT: barrier.cluster.wait.aligned;
// This block's share: 16-byte reads of the 3 ranks' tiles, their sums of
// x^2, the norm scale, 4 bf16 stored at once.
// PTX-COUNT-3: ld.shared::cluster.v4.b32
// PTX-COUNT-2: ld.shared::cluster.b32
// PTX: rsqrt.approx.f32
// PTX: st.global.v2.b32
// The stage loop: 4 k16 steps per stage, K-major A and B (no transpose),
// one group in flight.
// PTX: wgmma.fence.sync.aligned;
// PTX-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, 1, 1, 0, 0;
// PTX: wgmma.commit_group.sync.aligned;
// PTX: wgmma.wait_group.sync.aligned 1;
// PTX: mbarrier.try_wait.parity.shared.b64
// PTX: ld.shared.v4.b32
// PTX: st.shared.v4.b32
// PTX: fence.proxy.async.shared::cta;
// PTX: bar.sync 0;
// PTX: cp.async.bulk.tensor.2d
// PTX-LABEL: .visible .entry linear_wgmma_1(
// PTX-NOT: .reqnctapercluster
// PTX: .maxntid 128, 1, 1
// PTX: .minnctapersm 1
// PTX-NOT: barrier.cluster
// PTX: st.global.b32
// One warpgroup covers the 128 tokens with N = 128 wgmmas.
// PTX-NOT: m64n64k16
// PTX-COUNT-4: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// PTX-NOT: m64n64k16
// PTX-LABEL: .visible .entry linear_reduce_2(
// PTX-LABEL: .visible .entry linear_wgmma_direct_3(
// PTX-NOT: .reqnctapercluster
// PTX-NOT: barrier.cluster
// PTX-NOT: mapa
// PTX: ld.shared.v4.b32
// The bias, 4 bf16 at once.
// PTX: ld.global.nc.v4.b16
// PTX: st.global.v2.b32
// PTX-NOT: barrier.cluster
// The norm weight folded into W's columns (RMS scale only): no norm weight
// argument; in the stage loop the tokens are only read, after the stage's
// wgmmas are issued: each warp adds X X^T of its 16 tokens by mma.sync (8 per
// 64-column stage; the sums of x^2 are the diagonal). No proxy fence.
// Its 224 row blocks fill the SMs: two blocks per SM, 3 stages each (the
// 32 KB stages of 128 tokens).
// PTX-LABEL: .visible .entry linear_wgmma_direct_4(
// PTX: .minnctapersm 2
// PTX: rsqrt.approx.f32
// PTX: wgmma.commit_group.sync.aligned;
// PTX-COUNT-8: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: wgmma.wait_group.sync.aligned 1;
// PTX-NOT: fence.proxy.async
// PTX: mbarrier.try_wait.parity.shared.b64
// PTX-NOT: fence.proxy.async
// PTX: bar.sync 0;
// wgmma-wait-groups=0: each stage's wgmmas are waited for before the next
// stage, so the ring copies one stage further ahead.
// WAIT0-LABEL: .visible .entry linear_wgmma_direct_4(
// WAIT0-NOT: wgmma.wait_group.sync.aligned 1;
// WAIT0: wgmma.commit_group.sync.aligned;
// WAIT0: mma.sync.aligned.m16n8k16
// WAIT0: wgmma.wait_group.sync.aligned 0;
// WAIT0-NOT: wgmma.wait_group.sync.aligned 1;
// WAIT0-LABEL: .visible .entry linear_wgmma_direct_5(
// BADWAIT: error: {{.*}}wgmma-wait-groups 0 or 1
// BADONN: error: {{.*}}wgmma-weights-on-n -1, 0 or 1
// silu_mul in the epilogue (activation): a block's W rows are 64 gate rows
// and the matching 64 up rows, two TMA boxes of 64 rows per stage (with x,
// three copies on one mbarrier); the epilogue pairs tile rows r and r + 64
// and stores silu(gate) * up, 4 bf16 at once. The 2 stages the ring copies
// ahead get their W boxes before the wait for the previous kernel
// (programmatic launch: W streams during its tail), and x, its result, after.
// PTX-LABEL: .visible .entry linear_wgmma_direct_5(
// PTX: griddepcontrol.launch_dependents;
// PTX: mbarrier.arrive.expect_tx.shared.b64 {{.*}}[__mbarrier_[[BAR:[0-9]+]]+8]
// PTX: cp.async.bulk.tensor.2d{{.*}}[__mbarrier_[[BAR]]+8];
// PTX-NEXT: cp.async.bulk.tensor.2d{{.*}}[__mbarrier_[[BAR]]+8];
// PTX-NEXT: griddepcontrol.wait;
// PTX: cp.async.bulk.tensor.2d{{.*}}[__mbarrier_[[BAR]]];
// wgmma-early-stages=0: every copy after the wait, each stage's three together.
// EARLY0-LABEL: .visible .entry linear_wgmma_direct_5(
// EARLY0-NOT: cp.async.bulk.tensor
// EARLY0: griddepcontrol.wait;
// EARLY0: mbarrier.arrive.expect_tx.shared.b64 {{.*}}[__mbarrier_[[BAR0:[0-9]+]]]
// EARLY0-COUNT-3: cp.async.bulk.tensor.2d{{.*}}[__mbarrier_[[BAR0]]];
// PTX: ex2.approx.ftz.f32
// PTX: div.approx.f32
// PTX: st.global.v2.b32
// In the stage loop the three copies of a stage go out together.
// PTX: mbarrier.arrive.expect_tx.shared.b64
// PTX-COUNT-3: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// o at 128 tokens: two token tiles of 64 (grid x: row block 2 i takes
// tokens [0, 64), 2 i + 1 tokens [64, 128)), one warpgroup, one block per SM
// with the whole ring, no K split, the epilogue in the kernel. Stages of 128
// columns: two 64-column boxes of W and two of x on one mbarrier, 8 k16
// steps.
// PTX-LABEL: .visible .entry linear_wgmma_direct_6(
// PTX-NOT: .reqnctapercluster
// PTX: .minnctapersm 1
// PTX-NOT: barrier.cluster
// PTX: mbarrier.arrive.expect_tx.shared.b64
// PTX-COUNT-4: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// PTX: wgmma.fence.sync.aligned;
// PTX-COUNT-8: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX-NOT: wgmma.mma_async
// PTX: wgmma.commit_group.sync.aligned;
// PTX-LABEL: .visible .entry linear_wgmma_direct_7(

// wgmma-serial-reduce (default; the other prefixes run without it): the
// down projection at 128 tokens keeps its deep ring and 2 K splits without
// a reduce launch. Each block writes its f32 partials, fences, and counts
// its tile's arrival in a `counters` word (64 row blocks per token tile);
// the last split zeroes the word, fences again, and sums the tile's
// partials in split order, 8 units of 4 columns per thread at a time: every
// unit's 16-byte loads (2 partials, the residual) before its stores.
// SERIAL-PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "operand2", "tma:operand0:128x64", "tma:operand1:64x64", "workspace", "result0", "counters", "tokens"], block = array<i64: 128, 1, 1>, counter_words_per_token = 64 : i64, grid = array<i64: 64, 2, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_split_1, max_tokens = 128 : i64, programmatic = true, shared_bytes = 197632 : i64, workspace_bytes = 0 : i64, workspace_bytes_per_token = 32768 : i64}]
// SERIAL-NOT: linear_reduce
// SERIAL-LABEL: .visible .entry linear_wgmma_split_1(
// SERIAL: membar.gl;
// SERIAL: atom.global.add.u32
// SERIAL: st.global.b32 {{.*}}, 0;
// SERIAL: membar.gl;
// SERIAL-COUNT-16: ld.global.v4.b32
// SERIAL-NOT: st.global
// SERIAL-COUNT-8: st.global.v2.b32
// SERIAL: wgmma.mma_async


// wgmma-cluster-reduce=0: the K splits write f32 partials to the workspace
// and a linear_reduce launch sums them and applies the epilogue.
// NOCLU-PLAN: decode.linear {{.*}}decode.launches = [{args = ["operand0", "operand2", "tma:operand0:64x64", "tma:operand1:128x64", "workspace", "tokens"], block = array<i64: 256, 1, 1>, grid = array<i64: 48, 3, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_0, max_tokens = 64 : i64, programmatic = true, shared_bytes = 99328
// NOCLU-PLAN-SAME: kernel = @decode_kernels::@linear_reduce_1, max_tokens = 64
// NOCLU-PLAN: decode.linear {{.*}}"tma:operand0:128x64", "tma:operand1:64x64"{{.*}}grid = array<i64: 64, 2, 1>{{.*}}kernel = @decode_kernels::@linear_wgmma_2, max_tokens = 128 : i64, programmatic = true, shared_bytes = 197632

// NOCLU: .target sm_90a
// NOCLU-LABEL: .visible .entry linear_wgmma_0(
// NOCLU: .minnctapersm 2
// One mbarrier per slot; thread 0 arms it with both tiles' bytes and starts
// the two 2-D tensor copies, 2 stages ahead.
// NOCLU: mbarrier.init.shared.b64
// NOCLU: mbarrier.arrive.expect_tx.shared.b64
// NOCLU-COUNT-2: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// (LLVM lays the epilogue out before the rotated stage loop.) f32 partials.
// NOCLU: wgmma.wait_group.sync.aligned 0;
// NOCLU: st.global.b32
// 4 k16 steps per stage, K-major A and B (no transpose), one group in
// flight.
// NOCLU: wgmma.fence.sync.aligned;
// NOCLU-COUNT-4: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, 1, 1, 0, 0;
// NOCLU: wgmma.commit_group.sync.aligned;
// NOCLU: wgmma.wait_group.sync.aligned 1;
// Wait for the stage; the norm weight scales the staged tokens, which are
// then handed back to the async proxy.
// NOCLU: mbarrier.try_wait.parity.shared.b64
// NOCLU: ld.shared.v4.b32
// NOCLU: st.shared.v4.b32
// NOCLU: fence.proxy.async.shared::cta;
// NOCLU: bar.sync 0;
// NOCLU: cp.async.bulk.tensor.2d
// NOCLU-LABEL: .visible .entry linear_wgmma_2(
// NOCLU: .minnctapersm 1
// No norm: no proxy fence.
// NOCLU-NOT: fence.proxy.async
// NOCLU: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// NOCLU-NOT: fence.proxy.async
// NOCLU: .entry

// Without tensor maps (wgmma-cp-async), 16-byte cp.async copies feed the
// unswizzled layout (tokens past T are zero-filled: a register source size).
// Split, it keeps the workspace and the reduce launch (no clusters).
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

func.func @gate_up(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %b = decode.weight ["b"] : tensor<28672xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<28672xbf16>) {variants = [#decode.variant<max_tokens = 64, kind = wgmma>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @gate_up_rms(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 128, kind = wgmma>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @gate_up_silu(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["gate", "up"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {activation = #decode.activation<silu_mul>, norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @o_proj(%x: tensor<?x4096xbf16>, %r: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w residual(%r : tensor<?x4096xbf16>) {variants = [#decode.variant<max_tokens = 128, kind = wgmma>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @gate_up_silu_128(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["gate", "up"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {activation = #decode.activation<silu_mul>, norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 128, kind = wgmma>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @o_proj_256(%x: tensor<?x4096xbf16>, %r: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w residual(%r : tensor<?x4096xbf16>) {variants = [#decode.variant<max_tokens = 256, kind = wgmma>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @gate_up_silu_256(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["gate", "up"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {activation = #decode.activation<silu_mul>, norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 256, kind = wgmma>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

// wgmma-multicast=1: blocks 2c and 2c + 1 form a cluster of two. Where they
// are row blocks of one token tile (the 128-token rms linear, weights on N)
// each copies half of the token tile (64 of 128 rows) to both; where they
// are the two token tiles of a row block (256 tokens, 64-row blocks) each
// copies half of the W rows (32 of 64). A slot is refilled once both blocks
// have released it (an "empty" mbarrier per slot, initialized for two
// arrivals and fenced before the cluster barrier; remote arrivals; a spin
// without a suspend hint). The K splits' cluster (grid y) keeps its plan.
// MCAST-PLAN: decode.linear {{.*}}"tma:operand0:64x64", "tma:operand1:128x64"{{.*}}grid = array<i64: 48, 3, 1>{{.*}}@linear_wgmma_cluster_0, max_tokens = 64
// MCAST-PLAN: decode.linear {{.*}}"tma:operand0:64x64", "tma:operand1:224x64", "result0", "counters", "tokens"]{{.*}}grid = array<i64: 128, 1, 1>{{.*}}@linear_wgmma_direct_3, max_tokens = 128
// MCAST-PLAN: decode.linear {{.*}}"tma:operand0:128x64", "tma:operand1:32x64"{{.*}}grid = array<i64: 128, 1, 1>{{.*}}@linear_wgmma_direct_7, max_tokens = 256
// MCAST-LABEL: .visible .entry linear_wgmma_cluster_0(
// MCAST-NOT: multicast::cluster
// MCAST-LABEL: .visible .entry linear_wgmma_split_1(
// MCAST-LABEL: .visible .entry linear_wgmma_direct_3(
// MCAST: .reqnctapercluster 2, 1, 1
// MCAST: mbarrier.init.shared.b64 {{.*}}, %r{{[0-9]+}};
// MCAST: fence.mbarrier_init.release.cluster;
// MCAST-NEXT: $L__
// MCAST: barrier.cluster.arrive.aligned;
// MCAST-NEXT: barrier.cluster.wait.aligned;
// MCAST: griddepcontrol.wait;
// MCAST: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster
// MCAST: mapa.shared::cluster.u64
// MCAST: mbarrier.arrive.shared::cluster.b64 _,
// MCAST: wgmma.mma_async.sync.aligned.m64n224k16.f32.bf16.bf16
// MCAST: wait_phase:
// MCAST-NEXT: mbarrier.try_wait.parity.shared::cta.b64
// MCAST: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster
// MCAST-LABEL: .visible .entry linear_wgmma_direct_7(
// MCAST: .reqnctapercluster 2, 1, 1
// MCAST: barrier.cluster.wait.aligned;
// MCAST: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster
// MCAST: griddepcontrol.wait;
