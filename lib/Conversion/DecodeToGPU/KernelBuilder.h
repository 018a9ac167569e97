//===- KernelBuilder.h - shared gpu.func emission helpers -------*- C++ -*-===//
//
// Every family emitter (Linear.cpp, Norm.cpp, Attention.cpp, ...) builds its
// kernels through KernelBuilder, so that the parameter ABI of
// docs/launch-plan.md holds by construction and the common idioms (16-byte
// vector loads, warp and block reductions, loops) are written once.
//
// Usage:
//   KernelBuilder kb(ctx, op, "rms_norm", /*maxTokens=*/0);
//   unsigned in = kb.addOperand(0), out = kb.addResult(0);
//   unsigned rows = kb.addScalar(ctx.rowsOf(op->getOperand(0)));
//   kb.create({256, 1, 1}, {{1, GridExtent::Scale::Tokens}});
//   ... kb.b() builds the body with kb.param(in), kb.threadId(), ...
//   out.push_back(kb.finish());
//
//===----------------------------------------------------------------------===//

#ifndef INFER_LIB_CONVERSION_DECODETOGPU_KERNELBUILDER_H
#define INFER_LIB_CONVERSION_DECODETOGPU_KERNELBUILDER_H

#include "infer/Conversion/DecodeToGPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <array>
#include <optional>

namespace infer {

/// Extent that replaces a dynamic dimension of a tensor in a kernel's memref
/// parameter type. Only the leading dimension may be dynamic (tensors with a
/// dynamic inner dimension are passed flattened to 1-D), so the bound never
/// enters address arithmetic; kernels take the real counts as scalars.
inline constexpr int64_t kDynamicExtentBound = int64_t(1) << 24;

/// Width of every lane's vector memory access.
inline constexpr int64_t kVectorBytes = 16;
inline constexpr int64_t kWarpSize = 32;

/// The memref type of a kernel parameter bound to a value of type `type`
/// (a ranked tensor or a `!decode.kv_cache`). See docs/launch-plan.md,
/// "Buffers". Returns null for unsupported types.
mlir::MemRefType getKernelBufferType(mlir::Type type);

/// Elements per 16-byte access that divide every size in `sizes`
/// (a power of two, at least 1).
int64_t vectorWidthFor(mlir::Type elementType, llvm::ArrayRef<int64_t> sizes);

/// Combining function of a reduction.
enum class ReduceKind { Add, Max };

/// Builds one kernel (a `gpu.func` in the kernels module) and its launch.
class KernelBuilder {
public:
  KernelBuilder(EmitContext &ctx, mlir::Operation *op, llvm::StringRef prefix,
                int64_t maxTokens);

  //===--------------------------------------------------------------------===//
  // Parameters. Declare them before create(), in ABI order (operands,
  // results, workspace, counters, scalars). Each returns its slot.
  //===--------------------------------------------------------------------===//

  /// Operand `i` of the op, as getKernelBufferType(type).
  unsigned addOperand(unsigned i);
  /// A TMA descriptor of 2-D operand `i` (an `!llvm.ptr` to the runtime's
  /// CUtensorMap: boxes of boxRows x boxCols elements, 128-byte swizzle).
  unsigned addTensorMap(unsigned i, int64_t boxRows, int64_t boxCols);
  /// Result `i` of the op.
  unsigned addResult(unsigned i);
  /// The op's scratch buffer viewed as `type`; adds `fixedBytes` and
  /// `bytesPerRow` (times the row count at run time) to the launch's needs.
  unsigned addWorkspace(mlir::MemRefType type, int64_t fixedBytes,
                        int64_t bytesPerRow);
  /// The runtime's zeroed `i32` counters (`memref<?xi32>`), `wordsPerRow`
  /// words per row of the step; the kernel must leave them zero.
  unsigned addCounters(int64_t wordsPerRow);
  /// A step scalar (`i32`).
  unsigned addScalar(StepScalar scalar);

  /// Creates the gpu.func with a known block size and records the grid.
  /// Afterwards b() inserts into the kernel body. With programmatic launch
  /// the body starts by waiting for the previous kernel (griddepcontrol),
  /// unless deferDependencyWait() was called.
  void create(std::array<int64_t, 3> block, llvm::ArrayRef<GridExtent> grid);

  /// Call before create(): the body may read what no kernel of the step
  /// writes (weights, the step's host-written inputs: query_start,
  /// context_lens, block tables, scalars) before waitForDependencies(), so
  /// that those loads overlap the previous kernel's tail. Nothing may be
  /// written to global memory, and no activation or cache read, before the
  /// wait.
  /// `dependentsFirst`: the next kernel may be scheduled from the start (its
  /// blocks then occupy the SMs while this one waits), else once this one's
  /// wait has returned.
  void deferDependencyWait(bool dependentsFirst = true) {
    deferWait = true;
    this->dependentsFirst = dependentsFirst;
  }
  /// Waits for the previous kernel's results (griddepcontrol.wait; a no-op
  /// once it has returned, so it may sit in loops and on several paths).
  /// Every path of a deferred-wait kernel must reach it before its first
  /// dependent access; finish() checks that one was emitted.
  void waitForDependencies();

  /// Asks ptxas for at least `blocks` resident blocks per SM (caps the
  /// registers; `.minnctapersm`). Call after create().
  void setMinBlocksPerSM(int64_t blocks);

  /// A workgroup (shared-memory) buffer, 16-byte aligned.
  mlir::Value addShared(llvm::ArrayRef<int64_t> shape, mlir::Type elementType);
  /// A 16-byte aligned buffer in dynamic shared memory (not limited to the
  /// 48 KB of static shared memory); adds its bytes to the launch's
  /// `shared_bytes`. Call after create().
  mlir::Value addDynamicShared(llvm::ArrayRef<int64_t> shape,
                               mlir::Type elementType);

  /// Ends the body and returns the launch description.
  KernelLaunch finish();

  //===--------------------------------------------------------------------===//
  // Body helpers.
  //===--------------------------------------------------------------------===//

  mlir::ImplicitLocOpBuilder &b() { return builder; }
  mlir::gpu::GPUFuncOp func() { return kernel; }
  mlir::Operation *op() { return sourceOp; }
  int64_t maxTokens() const { return launch.maxTokens; }
  int64_t blockSize() const {
    return launch.block[0] * launch.block[1] * launch.block[2];
  }
  int64_t numWarps() const { return blockSize() / kWarpSize; }

  /// The parameter in `slot`.
  mlir::Value param(unsigned slot);
  /// An `i32` scalar parameter as `index`.
  mlir::Value scalarIndex(unsigned slot);

  mlir::Value index(int64_t v);
  mlir::Value i32(int64_t v);
  mlir::Value f32(double v);
  /// A constant of float type `type` (scalar or vector splat).
  mlir::Value floatConst(mlir::Type type, double v);

  mlir::Value threadId(mlir::gpu::Dimension d = mlir::gpu::Dimension::x);
  mlir::Value blockId(mlir::gpu::Dimension d = mlir::gpu::Dimension::x);
  /// threadIdx.x % 32 and threadIdx.x / 32 (1-D blocks).
  mlir::Value laneId();
  mlir::Value warpId();

  mlir::Value add(mlir::Value a, mlir::Value c);
  mlir::Value mul(mlir::Value a, mlir::Value c);
  mlir::Value minIndex(mlir::Value a, mlir::Value c);
  mlir::Value cmp(mlir::arith::CmpIPredicate p, mlir::Value a, mlir::Value c);

  /// `width` contiguous elements at `indices` of `memref`, with the 16-byte
  /// (or element-size) alignment that makes LLVM emit one vector access.
  mlir::Value loadVector(mlir::Value memref, mlir::ValueRange indices,
                         int64_t width);
  /// The shared-window or global address (an index) of element `indices`
  /// of a row-major buffer.
  mlir::Value elementAddress(mlir::Value memref, mlir::ValueRange indices);
  /// A 16-byte loadVector of read-only global data that asks L2 to fetch
  /// the `l2Bytes` (64, 128 or 256) around it from DRAM at once
  /// (`ld.global.nc.L2::<l2Bytes>B`; 0: a plain loadVector). For accesses
  /// that read part of a line, the rest of it read soon after.
  mlir::Value loadVectorL2Prefetch(mlir::Value memref, mlir::ValueRange indices,
                                   int64_t width, int64_t l2Bytes);
  void storeVector(mlir::Value value, mlir::Value memref,
                   mlir::ValueRange indices);
  mlir::Value load(mlir::Value memref, mlir::ValueRange indices);
  void store(mlir::Value value, mlir::Value memref, mlir::ValueRange indices);

  /// `v` (an `i32` or a 16-byte vector) through volatile `mov`s that no
  /// optimizer moves or sees through: a load's (or an atomic's) registers
  /// are first read where this is placed, not where it was issued (e.g. a
  /// load before a loop whose value is used in one of its iterations).
  mlir::Value opaque(mlir::Value v);
  /// Float conversions (scalars or vectors); no-ops when the type matches.
  mlir::Value toF32(mlir::Value v);
  mlir::Value fromF32(mlir::Value v, mlir::Type elementType);
  /// `acc + a * c` on vectors of equal shape.
  mlir::Value fma(mlir::Value a, mlir::Value c, mlir::Value acc);

  /// Horizontal reduction of a vector to a scalar (`vector.reduction`).
  mlir::Value reduceVector(mlir::Value v, ReduceKind kind);
  /// Butterfly reduction over the 32 lanes (`gpu.shuffle xor`); every lane
  /// gets the result.
  mlir::Value warpReduce(mlir::Value v, ReduceKind kind);
  /// Reduction over the whole (1-D) block through `scratch`, a shared f32
  /// buffer of at least numWarps() elements; every thread gets the result.
  /// Contains barriers: call it from uniform control flow.
  mlir::Value blockReduce(mlir::Value v, ReduceKind kind, mlir::Value scratch);

  /// Lane-wise combination of two tuples (e.g. (value, index) for argmax).
  using Combiner = llvm::function_ref<llvm::SmallVector<mlir::Value>(
      mlir::ValueRange, mlir::ValueRange)>;
  /// Tuple versions of the reductions: `scratch` holds one shared buffer of
  /// at least numWarps() elements per tuple member, `identity` the values
  /// lanes past the warp count contribute.
  llvm::SmallVector<mlir::Value> warpReduce(mlir::ValueRange values,
                                            Combiner combiner);
  llvm::SmallVector<mlir::Value> blockReduce(mlir::ValueRange values,
                                             Combiner combiner,
                                             mlir::ValueRange identity,
                                             mlir::ValueRange scratch);
  mlir::Value combine(mlir::Value a, mlir::Value c, ReduceKind kind);
  void barrier();
  /// `membar.gl`: this thread's earlier memory accesses are performed at GPU
  /// scope before its later ones.
  void fenceGpu();
  /// Atomically adds the `i32` `v` to `memref[indices]`; returns the old
  /// value.
  mlir::Value atomicAdd(mlir::Value memref, mlir::ValueRange indices,
                        mlir::Value v);

  /// Starts an asynchronous copy (`cp.async.cg`, 16 bytes) of `width`
  /// elements from global `src` at `srcIndices` to shared `dst` at
  /// `dstIndices`; only `srcElements` of them are read, the rest are zero
  /// (0: no global access). Returns the copy's token.
  mlir::Value asyncCopy(mlir::Value src, mlir::ValueRange srcIndices,
                        mlir::Value dst, mlir::ValueRange dstIndices,
                        int64_t width, mlir::Value srcElements);
  /// Commits the thread's pending asynchronous copies `copies` as one group
  /// (`cp.async.commit_group`); returns the group's token.
  mlir::Value asyncCommit(mlir::ValueRange copies);
  /// Waits until at most `pending` of the thread's committed groups are in
  /// flight (`cp.async.wait_group`); the data of the others is then visible
  /// to this thread (to other threads only after a barrier).
  void asyncWait(mlir::Value group, int64_t pending);

  /// `scf.for` from lb to ub by step; `body(iv, iterArgs)` returns the
  /// yielded values. Returns the loop results.
  using LoopBody = llvm::function_ref<llvm::SmallVector<mlir::Value>(
      mlir::Value, mlir::ValueRange)>;
  llvm::SmallVector<mlir::Value> forLoop(mlir::Value lb, mlir::Value ub,
                                         mlir::Value step,
                                         mlir::ValueRange init, LoopBody body);
  /// `scf.for` without loop-carried values.
  void forLoop(mlir::Value lb, mlir::Value ub, mlir::Value step,
               llvm::function_ref<void(mlir::Value)> body);
  /// `scf.if` without results.
  void ifThen(mlir::Value cond, llvm::function_ref<void()> body);
  /// `scf.if` with results of the types of `thenBody`'s values.
  llvm::SmallVector<mlir::Value>
  ifThenElse(mlir::Value cond, mlir::TypeRange types,
             llvm::function_ref<llvm::SmallVector<mlir::Value>()> thenBody,
             llvm::function_ref<llvm::SmallVector<mlir::Value>()> elseBody);

  //===--------------------------------------------------------------------===//
  // Lane-group and index helpers (used by the attention and rope kernels).
  //===--------------------------------------------------------------------===//

  mlir::Value sub(mlir::Value a, mlir::Value c);
  mlir::Value divIndex(mlir::Value a, mlir::Value c); ///< unsigned
  mlir::Value remIndex(mlir::Value a, mlir::Value c); ///< unsigned
  mlir::Value ceilDivIndex(mlir::Value a, mlir::Value c);
  mlir::Value maxIndex(mlir::Value a, mlir::Value c); ///< unsigned
  mlir::Value select(mlir::Value cond, mlir::Value a, mlir::Value c);
  /// An integer (e.g. an `i32` loaded from a buffer) as a signed `index`.
  mlir::Value toIndex(mlir::Value v);
  /// `vector<N x type(scalar)>` with every element `scalar`.
  mlir::Value splat(mlir::Value scalar, int64_t n);
  /// `exp2` of a float scalar or vector (lowers to `ex2.approx`).
  mlir::Value exp2(mlir::Value v);
  /// `round(round(silu(gate)) * up)` in `elementType` (torch's
  /// `F.silu(gate) * up` on tensors of that type); `gate` and `up` are f32.
  mlir::Value siluMul(mlir::Value gate, mlir::Value up, mlir::Type elementType);
  /// The value of lane `lane ^ offset` (vectors element by element).
  mlir::Value shuffleXor(mlir::Value v, int64_t offset);
  /// The value (a 32-bit scalar) of lane `lane` (an `index`).
  mlir::Value shuffleIdx(mlir::Value v, mlir::Value lane);
  /// Butterfly reduction within each aligned group of `lanes` lanes (a power
  /// of two <= 32); every lane of a group gets its group's result.
  mlir::Value groupReduce(mlir::Value v, ReduceKind kind, int64_t lanes);
  /// Runs `body(i)` for every i in [0, total), spread over the threads of
  /// the (1-D) block: thread t takes t, t + blockSize(), ...
  void forEachThread(int64_t total, llvm::function_ref<void(mlir::Value)> body);

  //===--------------------------------------------------------------------===//
  // mbarriers and bulk copies (sm_90), by shared-window addresses (indices).
  //===--------------------------------------------------------------------===//

  /// `mbarrier.arrive.expect_tx` of `bytes` on the mbarrier at the
  /// shared-window address `barrier` (an index).
  void arriveExpectTx(mlir::Value barrier, int64_t bytes);
  /// `cp.async.bulk` of `bytes` (a multiple of 16) from the global address
  /// `src` to the shared-window address `dst` (indices, 16-byte aligned),
  /// completing on the mbarrier at `barrier`.
  void bulkCopyToShared(mlir::Value dst, mlir::Value src, int64_t bytes,
                        mlir::Value barrier);
  /// Spins on `mbarrier.try_wait.parity` (no suspend-time hint) until the
  /// phase of parity `parity` (i32) of the mbarrier at the shared-window
  /// address `address` (an index) has completed.
  void waitBarrierPhase(mlir::Value address, mlir::Value parity);
  /// A shared-window address as the i32 of PTX's shared state space.
  mlir::Value sharedAddress32(mlir::Value address);

  //===--------------------------------------------------------------------===//
  // Thread-block clusters (sm_90).
  //===--------------------------------------------------------------------===//

  /// Compiles the kernel for clusters of `dims` blocks (`nvvm.cluster_dim`,
  /// PTX `.reqnctapercluster`): plain launches then group the grid's blocks
  /// so. Each grid extent must be a multiple. Call after create().
  void setClusterDims(std::array<int64_t, 3> dims);
  /// `barrier.cluster.arrive` (release) + `barrier.cluster.wait` (acquire),
  /// `.aligned`: every thread of every block of the cluster takes part. Call
  /// from uniform control flow.
  void clusterBarrier();
  /// The shared-window address `address` (an index, e.g.
  /// `memref.extract_aligned_pointer_as_index` of a workgroup buffer) as a
  /// pointer: into this block's shared memory (`!llvm.ptr<3>`) when `rank`
  /// is null, else to the same offset in the shared memory of block `rank`
  /// (an index) of the cluster (`mapa`, `!llvm.ptr<7>`, read with
  /// `ld.shared::cluster`).
  mlir::Value sharedPointer(mlir::Value address, mlir::Value rank = {});
  /// A load of `type` from `byteOffset` (an index) bytes past `pointer`,
  /// `alignment` bytes aligned.
  mlir::Value loadPointer(mlir::Value pointer, mlir::Value byteOffset,
                          mlir::Type type, int64_t alignment);

  //===--------------------------------------------------------------------===//
  // mma.sync fragments (Linear.cpp, Attention.cpp).
  //===--------------------------------------------------------------------===//

  /// A vector of 16-bit floats as `i32` registers: register m holds elements
  /// 2m and 2m + 1.
  llvm::SmallVector<mlir::Value> packedRegisters(mlir::Value v);
  /// `acc + A x B` by one `mma.sync.aligned.m16n8k16.row.col` of
  /// `elementType` (bf16 or f16) into f32: `a` holds the lane's 4 and `b`
  /// its 2 fragment registers (`i32`), `acc` is a `vector<4xf32>`.
  mlir::Value mmaSync(mlir::ValueRange a, mlir::ValueRange b, mlir::Value acc,
                      mlir::Type elementType);

private:
  void addParam(KernelArg arg, mlir::Type type);
  /// `timeline` option: thread 0 of the block records %globaltimer at the
  /// block's start or end (see KernelArg::Kind::Timeline).
  void stampTimeline(bool end);
  void launchDependents();

  EmitContext &ctx;
  mlir::Operation *sourceOp;
  mlir::ImplicitLocOpBuilder builder;
  std::string name;
  KernelLaunch launch;
  llvm::SmallVector<mlir::Type> paramTypes;
  mlir::gpu::GPUFuncOp kernel;
  /// Programmatic launch: see deferDependencyWait().
  unsigned timelineSlot = 0, timelineBuffer = 0; ///< params (timeline)
  bool deferWait = false, dependentsFirst = true, waitEmitted = false,
       dependentsLaunched = false;
};

/// The body of a kernel over the rows of a token-major result, launched
/// with block (kRowwiseBlock) and grid (rowwiseColumnBlocks(), rows): one
/// `vectorWidth`-wide column group per thread. `body(row, col)` emits the
/// work of one group; `col` is its first column.
void emitRowwiseBody(KernelBuilder &kb, int64_t columns, int64_t vectorWidth,
                     llvm::function_ref<void(mlir::Value, mlir::Value)> body);

/// Block size of emitRowwiseBody kernels and their grid for `columns`.
inline constexpr int64_t kRowwiseBlock = 256;
GridExtent rowwiseColumnBlocks(int64_t columns, int64_t vectorWidth);

} // namespace infer

#endif // INFER_LIB_CONVERSION_DECODETOGPU_KERNELBUILDER_H
