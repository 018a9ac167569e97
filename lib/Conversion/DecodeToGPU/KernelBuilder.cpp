//===- KernelBuilder.cpp - shared gpu.func emission helpers ---------------===//

#include "KernelBuilder.h"

#include "Decode/IR/DecodeDialect.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace {
/// Volatile PTX `text` (operands $0..: the results, then `operands`, as
/// `constraints` says): no optimizer moves, merges or looks through it.
Value volatileAsm(OpBuilder &builder, Location loc, Type resultType,
                  ValueRange operands, StringRef text, StringRef constraints) {
  return LLVM::InlineAsmOp::create(
             builder, loc, resultType, operands, text, constraints,
             /*has_side_effects=*/true, /*is_align_stack=*/false,
             LLVM::tailcallkind::TailCallKind::None,
             /*asm_dialect=*/LLVM::AsmDialectAttr(),
             /*operand_attrs=*/ArrayAttr())
      .getResult(0);
}

/// volatileAsm without results.
void voidAsm(OpBuilder &builder, Location loc, ValueRange operands,
             StringRef text, StringRef constraints) {
  LLVM::InlineAsmOp::create(builder, loc, TypeRange(), operands, text,
                            constraints, /*has_side_effects=*/true,
                            /*is_align_stack=*/false,
                            LLVM::tailcallkind::TailCallKind::None,
                            /*asm_dialect=*/LLVM::AsmDialectAttr(),
                            /*operand_attrs=*/ArrayAttr());
}
} // namespace

namespace infer {

MemRefType getKernelBufferType(Type type) {
  if (auto cache = dyn_cast<decode::KVCacheType>(type))
    return MemRefType::get({kDynamicExtentBound, cache.getLayers(), 2,
                            cache.getKvHeads(), cache.getBlockSize(),
                            cache.getHeadDim()},
                           cache.getDtype());
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return {};
  ArrayRef<int64_t> shape = tensor.getShape();
  bool innerDynamic = shape.size() > 1 &&
                      llvm::any_of(shape.drop_front(), ShapedType::isDynamic);
  if (innerDynamic)
    return MemRefType::get({kDynamicExtentBound}, tensor.getElementType());
  SmallVector<int64_t> sizes(shape);
  if (!sizes.empty() && ShapedType::isDynamic(sizes.front()))
    sizes.front() = kDynamicExtentBound;
  return MemRefType::get(sizes, tensor.getElementType());
}

int64_t vectorWidthFor(Type elementType, ArrayRef<int64_t> sizes) {
  int64_t bits = elementType.getIntOrFloatBitWidth();
  int64_t width = std::max<int64_t>(1, kVectorBytes * 8 / bits);
  for (int64_t size : sizes)
    while (width > 1 && size % width != 0)
      width /= 2;
  return width;
}

//===----------------------------------------------------------------------===//
// KernelBuilder: parameters and the function
//===----------------------------------------------------------------------===//

KernelBuilder::KernelBuilder(EmitContext &ctx, Operation *op, StringRef prefix,
                             int64_t maxTokens)
    : ctx(ctx), sourceOp(op), builder(op->getLoc(), op->getContext()),
      name(ctx.uniqueName(prefix)) {
  launch.kernel = name;
  launch.maxTokens = maxTokens;
}

void KernelBuilder::addParam(KernelArg arg, Type type) {
  assert(!kernel && "parameters must be declared before create()");
  assert((launch.args.empty() || launch.args.back().kind <= arg.kind) &&
         "parameters must follow the ABI order");
  launch.args.push_back(arg);
  paramTypes.push_back(type);
}

unsigned KernelBuilder::addOperand(unsigned i) {
  addParam({KernelArg::Kind::Operand, i},
           getKernelBufferType(sourceOp->getOperand(i).getType()));
  return paramTypes.size() - 1;
}

unsigned KernelBuilder::addTensorMap(unsigned i, int64_t boxRows,
                                     int64_t boxCols) {
  KernelArg arg{KernelArg::Kind::TensorMap, i};
  arg.boxRows = boxRows;
  arg.boxCols = boxCols;
  addParam(arg, LLVM::LLVMPointerType::get(builder.getContext()));
  return paramTypes.size() - 1;
}

unsigned KernelBuilder::addResult(unsigned i) {
  addParam({KernelArg::Kind::Result, i},
           getKernelBufferType(sourceOp->getResult(i).getType()));
  return paramTypes.size() - 1;
}

unsigned KernelBuilder::addWorkspace(MemRefType type, int64_t fixedBytes,
                                     int64_t bytesPerRow) {
  addParam({KernelArg::Kind::Workspace, 0}, type);
  launch.workspaceBytes = fixedBytes;
  launch.workspaceBytesPerToken = bytesPerRow;
  return paramTypes.size() - 1;
}

unsigned KernelBuilder::addCounters(int64_t wordsPerRow) {
  addParam({KernelArg::Kind::Counters, 0},
           MemRefType::get({kDynamicExtentBound}, builder.getI32Type()));
  launch.counterWordsPerToken = wordsPerRow;
  return paramTypes.size() - 1;
}

unsigned KernelBuilder::addScalar(StepScalar scalar) {
  addParam({KernelArg::Kind::Scalar, 0, scalar}, builder.getI32Type());
  return paramTypes.size() - 1;
}

void KernelBuilder::create(std::array<int64_t, 3> block,
                           ArrayRef<GridExtent> grid) {
  assert(grid.size() <= 3 && "at most 3 grid dimensions");
  if (ctx.options.timeline) {
    timelineSlot = addScalar(StepScalar::Launch);
    addParam({KernelArg::Kind::Timeline, 0},
             MemRefType::get({kDynamicExtentBound}, builder.getI64Type()));
    timelineBuffer = paramTypes.size() - 1;
  }
  for (auto [i, extent] : llvm::enumerate(grid))
    launch.grid[i] = extent;
  for (unsigned i = 0; i < 3; ++i)
    launch.block[i] = block[i];

  builder.setInsertionPointToEnd(ctx.kernels.getBody());
  auto type = builder.getFunctionType(paramTypes, {});
  kernel = gpu::GPUFuncOp::create(builder, name, type);
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                  builder.getUnitAttr());
  kernel.setKnownBlockSizeAttr(builder.getDenseI32ArrayAttr(
      {int32_t(block[0]), int32_t(block[1]), int32_t(block[2])}));
  // The pointers of distinct parameters never alias.
  for (auto [i, type] : llvm::enumerate(paramTypes))
    if (isa<MemRefType>(type))
      kernel.setArgAttr(i, "llvm.noalias", builder.getUnitAttr());
  builder.setInsertionPointToStart(&kernel.getBody().front());
  // Before the wait: the slot is written by this launch only.
  if (ctx.options.timeline)
    stampTimeline(/*end=*/false);
  if (ctx.options.programmaticLaunch) {
    // Nothing before the previous grid's results are visible (unless the
    // kernel defers the wait past its loads of static data); the next
    // kernel's blocks may be scheduled while this one runs.
    launch.programmatic = true;
    if (!deferWait)
      waitForDependencies();
    else if (dependentsFirst)
      launchDependents();
  }
}

void KernelBuilder::stampTimeline(bool end) {
  Value first = index(0);
  Value leader = arith::AndIOp::create(
      builder,
      cmp(arith::CmpIPredicate::eq, threadId(gpu::Dimension::x), first),
      arith::AndIOp::create(
          builder,
          cmp(arith::CmpIPredicate::eq, threadId(gpu::Dimension::y), first),
          cmp(arith::CmpIPredicate::eq, threadId(gpu::Dimension::z), first)));
  ifThen(leader, [&] {
    Value now = NVVM::GlobalTimerOp::create(builder, builder.getI64Type());
    // Starts are kept as ~t so that one atomic max gives the earliest.
    if (!end)
      now = arith::XOrIOp::create(
          builder, now,
          arith::ConstantIntOp::create(builder, builder.getI64Type(), -1));
    Value slot = add(mul(scalarIndex(timelineSlot), index(2)), index(end));
    memref::AtomicRMWOp::create(builder, arith::AtomicRMWKind::maxu, now,
                                param(timelineBuffer), slot);
  });
}

void KernelBuilder::launchDependents() {
  NVVM::GriddepcontrolOp::create(builder,
                                 NVVM::GridDepActionKind::launch_dependents);
  dependentsLaunched = true;
}

void KernelBuilder::waitForDependencies() {
  if (!ctx.options.programmaticLaunch)
    return;
  NVVM::GriddepcontrolOp::create(builder, NVVM::GridDepActionKind::wait);
  waitEmitted = true;
  // After the first wait emitted (a block on a path without it triggers its
  // dependents when it exits).
  if (!dependentsLaunched)
    launchDependents();
}

void KernelBuilder::setMinBlocksPerSM(int64_t blocks) {
  kernel->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                  builder.getI32IntegerAttr(blocks));
}

Value KernelBuilder::addShared(ArrayRef<int64_t> shape, Type elementType) {
  auto space = gpu::AddressSpaceAttr::get(builder.getContext(),
                                          gpu::AddressSpace::Workgroup);
  auto type =
      MemRefType::get(shape, elementType, MemRefLayoutAttrInterface(), space);
  BlockArgument arg = kernel.addWorkgroupAttribution(type, builder.getLoc());
  kernel.setWorkgroupAttributionAttr(kernel.getNumWorkgroupAttributions() - 1,
                                     "llvm.align",
                                     builder.getI64IntegerAttr(kVectorBytes));
  return arg;
}

Value KernelBuilder::addDynamicShared(ArrayRef<int64_t> shape,
                                      Type elementType) {
  assert(kernel && "dynamic shared memory is addressed from the body");
  auto space = gpu::AddressSpaceAttr::get(builder.getContext(),
                                          gpu::AddressSpace::Workgroup);
  // An external zero-sized workgroup global is CUDA's `extern __shared__`
  // array: the start of the launch's dynamic shared memory. (The global of
  // gpu.dynamic_shared_memory is internal, and NVPTX demotes it to a static
  // variable that overlaps the kernel's other shared buffers.)
  constexpr StringLiteral name = "infer_dynamic_shared";
  auto bytesType = MemRefType::get({0}, builder.getI8Type(),
                                   MemRefLayoutAttrInterface(), space);
  auto module = cast<gpu::GPUModuleOp>(kernel->getParentOp());
  if (!module.lookupSymbol(name)) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(module.getBody());
    memref::GlobalOp::create(builder, name, builder.getStringAttr("public"),
                             bytesType, /*initial_value=*/Attribute(),
                             /*constant=*/false,
                             builder.getI64IntegerAttr(kVectorBytes));
  }
  auto type =
      MemRefType::get(shape, elementType, MemRefLayoutAttrInterface(), space);
  int64_t offset = llvm::alignTo(launch.sharedBytes, kVectorBytes);
  launch.sharedBytes =
      offset + type.getNumElements() * elementType.getIntOrFloatBitWidth() / 8;
  Value bytes = memref::GetGlobalOp::create(builder, bytesType, name);
  return memref::ViewOp::create(builder, type, bytes, index(offset),
                                ValueRange());
}

KernelLaunch KernelBuilder::finish() {
  assert((!launch.programmatic || waitEmitted) &&
         "a deferred-wait kernel never waits for its dependencies");
  if (ctx.options.timeline)
    stampTimeline(/*end=*/true);
  gpu::ReturnOp::create(builder);
  return launch;
}

Value KernelBuilder::param(unsigned slot) { return kernel.getArgument(slot); }

Value KernelBuilder::scalarIndex(unsigned slot) {
  return arith::IndexCastUIOp::create(builder, builder.getIndexType(),
                                      param(slot));
}

//===----------------------------------------------------------------------===//
// Body helpers
//===----------------------------------------------------------------------===//

Value KernelBuilder::index(int64_t v) {
  return arith::ConstantIndexOp::create(builder, v);
}

Value KernelBuilder::i32(int64_t v) {
  return arith::ConstantIntOp::create(builder, v, 32);
}

Value KernelBuilder::f32(double v) {
  return arith::ConstantOp::create(builder, builder.getF32FloatAttr(v));
}

Value KernelBuilder::floatConst(Type type, double v) {
  auto elementType = cast<FloatType>(getElementTypeOrSelf(type));
  TypedAttr attr = builder.getFloatAttr(elementType, v);
  if (auto vector = dyn_cast<VectorType>(type))
    attr = DenseElementsAttr::get(vector, attr);
  return arith::ConstantOp::create(builder, attr);
}

Value KernelBuilder::threadId(gpu::Dimension d) {
  return gpu::ThreadIdOp::create(builder, d);
}

Value KernelBuilder::blockId(gpu::Dimension d) {
  return gpu::BlockIdOp::create(builder, d);
}

Value KernelBuilder::laneId() {
  return arith::RemUIOp::create(builder, threadId(), index(kWarpSize));
}

Value KernelBuilder::warpId() {
  return arith::DivUIOp::create(builder, threadId(), index(kWarpSize));
}

Value KernelBuilder::add(Value a, Value c) {
  if (isa<FloatType>(getElementTypeOrSelf(a)))
    return arith::AddFOp::create(builder, a, c);
  return arith::AddIOp::create(builder, a, c);
}

Value KernelBuilder::mul(Value a, Value c) {
  if (isa<FloatType>(getElementTypeOrSelf(a)))
    return arith::MulFOp::create(builder, a, c);
  return arith::MulIOp::create(builder, a, c);
}

Value KernelBuilder::minIndex(Value a, Value c) {
  return arith::MinUIOp::create(builder, a, c);
}

Value KernelBuilder::cmp(arith::CmpIPredicate p, Value a, Value c) {
  return arith::CmpIOp::create(builder, p, a, c);
}

Value KernelBuilder::loadVector(Value memref, ValueRange indices,
                                int64_t width) {
  Type elementType = cast<MemRefType>(memref.getType()).getElementType();
  auto type = VectorType::get({width}, elementType);
  int64_t bytes = width * elementType.getIntOrFloatBitWidth() / 8;
  return vector::LoadOp::create(builder, type, memref, indices,
                                /*nontemporal=*/false,
                                llvm::MaybeAlign(uint64_t(bytes)));
}

Value KernelBuilder::elementAddress(Value memref, ValueRange indices) {
  auto memrefType = cast<MemRefType>(memref.getType());
  assert(memrefType.getLayout().isIdentity() && "a row-major buffer");
  Value offset = index(0);
  int64_t stride = 1;
  for (int64_t d = memrefType.getRank() - 1; d >= 0; --d) {
    offset = add(offset, mul(indices[d], index(stride)));
    stride *= memrefType.getDimSize(d);
  }
  int64_t elementBytes = memrefType.getElementTypeBitWidth() / 8;
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(builder, memref);
  return add(base, mul(offset, index(elementBytes)));
}

Value KernelBuilder::loadVectorL2Prefetch(Value memref, ValueRange indices,
                                          int64_t width, int64_t l2Bytes) {
  if (l2Bytes == 0)
    return loadVector(memref, indices, width);
  auto memrefType = cast<MemRefType>(memref.getType());
  Type elementType = memrefType.getElementType();
  assert(width * elementType.getIntOrFloatBitWidth() == 128 && "16-byte loads");
  Value address = arith::IndexCastUIOp::create(builder, builder.getI64Type(),
                                               elementAddress(memref, indices));
  // Volatile, so that it keeps its place relative to griddepcontrol.wait.
  Type i32 = builder.getI32Type();
  auto words = LLVM::LLVMStructType::getLiteral(builder.getContext(),
                                                {i32, i32, i32, i32});
  std::string text = "ld.global.nc.L2::" + std::to_string(l2Bytes) +
                     "B.v4.b32 {$0, $1, $2, $3}, [$4];";
  Value loaded = volatileAsm(builder, builder.getLoc(), words,
                             ValueRange{address}, text, "=r,=r,=r,=r,l");
  SmallVector<Value> parts;
  for (int64_t i = 0; i < 4; ++i)
    parts.push_back(LLVM::ExtractValueOp::create(builder, loaded, i));
  Value packed =
      vector::FromElementsOp::create(builder, VectorType::get({4}, i32), parts);
  return vector::BitCastOp::create(
      builder, VectorType::get({width}, elementType), packed);
}

void KernelBuilder::storeVector(Value value, Value memref, ValueRange indices) {
  auto type = cast<VectorType>(value.getType());
  int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8;
  vector::StoreOp::create(builder, value, memref, indices,
                          /*nontemporal=*/false,
                          llvm::MaybeAlign(uint64_t(bytes)));
}

Value KernelBuilder::load(Value memref, ValueRange indices) {
  return memref::LoadOp::create(builder, memref, indices);
}

void KernelBuilder::store(Value value, Value memref, ValueRange indices) {
  memref::StoreOp::create(builder, value, memref, indices);
}

Value KernelBuilder::sharedAddress32(Value address) {
  return arith::TruncIOp::create(
      builder, builder.getI32Type(),
      arith::IndexCastUIOp::create(builder, builder.getI64Type(), address));
}

void KernelBuilder::arriveExpectTx(Value barrier, int64_t bytes) {
  voidAsm(builder, builder.getLoc(),
          ValueRange{sharedAddress32(barrier), i32(bytes)},
          "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", "r,r");
}

void KernelBuilder::bulkCopyToShared(Value dst, Value src, int64_t bytes,
                                     Value barrier) {
  assert(bytes % 16 == 0 && "bulk copies move multiples of 16 bytes");
  Value from = arith::IndexCastUIOp::create(builder, builder.getI64Type(), src);
  voidAsm(builder, builder.getLoc(),
          ValueRange{sharedAddress32(dst), from, i32(bytes),
                     sharedAddress32(barrier)},
          "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes "
          "[$0], [$1], $2, [$3];",
          "r,l,r,r");
}

void KernelBuilder::waitBarrierPhase(Value address, Value parity) {
  voidAsm(builder, builder.getLoc(),
          ValueRange{sharedAddress32(address), parity},
          "{\n.reg .pred done;\nwait_phase:\n"
          "mbarrier.try_wait.parity.shared::cta.b64 done, [$0], $1;\n"
          "@!done bra wait_phase;\n}",
          "r,r");
}

Value KernelBuilder::opaque(Value v) {
  Type i32 = builder.getI32Type();
  auto move = [&](Value word) {
    return volatileAsm(builder, builder.getLoc(), i32, ValueRange{word},
                       "mov.b32 $0, $1;", "=r,r");
  };
  if (v.getType() == i32)
    return move(v);
  auto type = cast<VectorType>(v.getType());
  assert(type.getNumElements() * type.getElementTypeBitWidth() == 128 &&
         "opaque takes i32 or 16-byte vectors");
  auto words = VectorType::get({4}, i32);
  Value packed = vector::BitCastOp::create(builder, words, v);
  Value result = packed;
  for (int64_t i = 0; i < 4; ++i)
    result = vector::InsertOp::create(
        builder, move(vector::ExtractOp::create(builder, packed, i)), result,
        i);
  return vector::BitCastOp::create(builder, type, result);
}

Value KernelBuilder::toF32(Value v) {
  Type f32Type = builder.getF32Type();
  if (getElementTypeOrSelf(v) == f32Type)
    return v;
  Type type = f32Type;
  if (auto vector = dyn_cast<VectorType>(v.getType()))
    type = vector.clone(f32Type);
  return arith::ExtFOp::create(builder, type, v);
}

Value KernelBuilder::fromF32(Value v, Type elementType) {
  if (getElementTypeOrSelf(v) == elementType)
    return v;
  Type type = elementType;
  if (auto vector = dyn_cast<VectorType>(v.getType()))
    type = vector.clone(elementType);
  return arith::TruncFOp::create(builder, type, v);
}

Value KernelBuilder::fma(Value a, Value c, Value acc) {
  return vector::FMAOp::create(builder, acc.getType(), a, c, acc);
}

Value KernelBuilder::combine(Value a, Value c, ReduceKind kind) {
  switch (kind) {
  case ReduceKind::Add:
    return arith::AddFOp::create(builder, a, c);
  case ReduceKind::Max:
    return arith::MaximumFOp::create(builder, a, c);
  }
  llvm_unreachable("unknown reduction");
}

Value KernelBuilder::reduceVector(Value v, ReduceKind kind) {
  auto combining = kind == ReduceKind::Add ? vector::CombiningKind::ADD
                                           : vector::CombiningKind::MAXIMUMF;
  return vector::ReductionOp::create(builder, combining, v);
}

SmallVector<Value> KernelBuilder::warpReduce(ValueRange values,
                                             Combiner combiner) {
  SmallVector<Value> v(values);
  for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
    SmallVector<Value> other;
    for (Value x : v)
      other.push_back(gpu::ShuffleOp::create(builder, x, offset, kWarpSize,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult());
    v = combiner(v, other);
  }
  return v;
}

SmallVector<Value> KernelBuilder::blockReduce(ValueRange values,
                                              Combiner combiner,
                                              ValueRange identity,
                                              ValueRange scratch) {
  SmallVector<Value> v = warpReduce(values, combiner);
  if (numWarps() == 1)
    return v;
  Value lane = laneId(), warp = warpId();
  barrier(); // scratch may still be read by a previous reduction
  ifThen(cmp(arith::CmpIPredicate::eq, lane, index(0)), [&] {
    for (auto [x, buffer] : llvm::zip_equal(v, scratch))
      store(x, buffer, warp);
  });
  barrier();
  // Every warp reduces the per-warp partials itself: lanes past the warp
  // count contribute the identity.
  Value inRange = cmp(arith::CmpIPredicate::ult, lane, index(numWarps()));
  Value clamped = minIndex(lane, index(numWarps() - 1));
  SmallVector<Value> partial;
  for (auto [buffer, id] : llvm::zip_equal(scratch, identity))
    partial.push_back(
        arith::SelectOp::create(builder, inRange, load(buffer, clamped), id));
  // A full butterfly, so that every lane (not only those below the warp
  // count) ends with the total.
  return warpReduce(partial, combiner);
}

Value KernelBuilder::warpReduce(Value v, ReduceKind kind) {
  return warpReduce(ValueRange{v}, [&](ValueRange a, ValueRange c) {
    return SmallVector<Value>{combine(a[0], c[0], kind)};
  })[0];
}

Value KernelBuilder::blockReduce(Value v, ReduceKind kind, Value scratch) {
  Value identity = kind == ReduceKind::Add
                       ? f32(0.0)
                       : f32(-std::numeric_limits<float>::infinity());
  return blockReduce(
      ValueRange{v},
      [&](ValueRange a, ValueRange c) {
        return SmallVector<Value>{combine(a[0], c[0], kind)};
      },
      ValueRange{identity}, ValueRange{scratch})[0];
}

void KernelBuilder::barrier() { gpu::BarrierOp::create(builder); }

void KernelBuilder::fenceGpu() {
  NVVM::MembarOp::create(builder, NVVM::MemScopeKind::GPU);
}

Value KernelBuilder::atomicAdd(Value memref, ValueRange indices, Value v) {
  return memref::AtomicRMWOp::create(builder, arith::AtomicRMWKind::addi, v,
                                     memref, indices);
}

Value KernelBuilder::asyncCopy(Value src, ValueRange srcIndices, Value dst,
                               ValueRange dstIndices, int64_t width,
                               Value srcElements) {
  return nvgpu::DeviceAsyncCopyOp::create(
      builder, dst, dstIndices, src, srcIndices, builder.getIndexAttr(width),
      srcElements, /*bypassL1=*/builder.getUnitAttr());
}

Value KernelBuilder::asyncCommit(ValueRange copies) {
  return nvgpu::DeviceAsyncCreateGroupOp::create(builder, copies);
}

void KernelBuilder::asyncWait(Value group, int64_t pending) {
  nvgpu::DeviceAsyncWaitOp::create(builder, group,
                                   builder.getI32IntegerAttr(pending));
}

SmallVector<Value> KernelBuilder::forLoop(Value lb, Value ub, Value step,
                                          ValueRange init, LoopBody body) {
  auto loop = scf::ForOp::create(
      builder, lb, ub, step, init,
      [&](OpBuilder &nested, Location loc, Value iv, ValueRange args) {
        OpBuilder::InsertionGuard guard(builder);
        builder.setInsertionPoint(nested.getInsertionBlock(),
                                  nested.getInsertionPoint());
        SmallVector<Value> yielded = body(iv, args);
        scf::YieldOp::create(builder, yielded);
      });
  return SmallVector<Value>(loop.getResults());
}

void KernelBuilder::forLoop(Value lb, Value ub, Value step,
                            function_ref<void(Value)> body) {
  forLoop(lb, ub, step, ValueRange(),
          [&](Value iv, ValueRange) -> SmallVector<Value> {
            body(iv);
            return {};
          });
}

void KernelBuilder::ifThen(Value cond, function_ref<void()> body) {
  auto ifOp = scf::IfOp::create(builder, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(ifOp.thenYield());
  body();
}

SmallVector<Value>
KernelBuilder::ifThenElse(Value cond, TypeRange types,
                          function_ref<SmallVector<Value>()> thenBody,
                          function_ref<SmallVector<Value>()> elseBody) {
  auto ifOp = scf::IfOp::create(builder, types, cond, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(ifOp.thenBlock());
    scf::YieldOp::create(builder, thenBody());
    builder.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(builder, elseBody());
  }
  return SmallVector<Value>(ifOp.getResults());
}

//===----------------------------------------------------------------------===//
// Lane-group and index helpers
//===----------------------------------------------------------------------===//

Value KernelBuilder::sub(Value a, Value c) {
  if (isa<FloatType>(getElementTypeOrSelf(a)))
    return arith::SubFOp::create(builder, a, c);
  return arith::SubIOp::create(builder, a, c);
}

Value KernelBuilder::divIndex(Value a, Value c) {
  return arith::DivUIOp::create(builder, a, c);
}

Value KernelBuilder::remIndex(Value a, Value c) {
  return arith::RemUIOp::create(builder, a, c);
}

Value KernelBuilder::ceilDivIndex(Value a, Value c) {
  return arith::CeilDivUIOp::create(builder, a, c);
}

Value KernelBuilder::maxIndex(Value a, Value c) {
  return arith::MaxUIOp::create(builder, a, c);
}

Value KernelBuilder::select(Value cond, Value a, Value c) {
  return arith::SelectOp::create(builder, cond, a, c);
}

Value KernelBuilder::toIndex(Value v) {
  return arith::IndexCastOp::create(builder, builder.getIndexType(), v);
}

Value KernelBuilder::splat(Value scalar, int64_t n) {
  return vector::BroadcastOp::create(
      builder, VectorType::get({n}, scalar.getType()), scalar);
}

Value KernelBuilder::exp2(Value v) { return math::Exp2Op::create(builder, v); }

Value KernelBuilder::siluMul(Value gate, Value up, Type elementType) {
  // silu(g) = g / (1 + exp(-g)), in f32.
  Value one = floatConst(gate.getType(), 1.0);
  Value denom = add(
      one, math::ExpOp::create(builder, arith::NegFOp::create(builder, gate)));
  // The division may be approximate (`afn`: div.approx, 2 ulp in f32): the
  // result is rounded to 16 bits next.
  Value act = toF32(fromF32(
      arith::DivFOp::create(builder, gate, denom, arith::FastMathFlags::afn),
      elementType));
  return fromF32(mul(act, up), elementType);
}

SmallVector<Value> KernelBuilder::packedRegisters(Value v) {
  auto type = cast<VectorType>(v.getType());
  assert(type.getElementTypeBitWidth() == 16 && type.getNumElements() % 2 == 0);
  auto packed =
      VectorType::get({type.getNumElements() / 2}, builder.getI32Type());
  Value bits = vector::BitCastOp::create(builder, packed, v);
  SmallVector<Value> regs;
  for (int64_t m = 0; m < packed.getNumElements(); ++m)
    regs.push_back(vector::ExtractOp::create(builder, bits, m));
  return regs;
}

Value KernelBuilder::mmaSync(ValueRange a, ValueRange b, Value acc,
                             Type elementType) {
  assert(a.size() == 4 && b.size() == 2 && "m16n8k16 fragments");
  Type f32 = builder.getF32Type();
  SmallVector<Value> c;
  for (int64_t m = 0; m < 4; ++m)
    c.push_back(vector::ExtractOp::create(builder, acc, m));
  NVVM::MMATypes type =
      elementType.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  Type resultType = LLVM::LLVMStructType::getLiteral(builder.getContext(),
                                                     SmallVector<Type>(4, f32));
  auto op = NVVM::MmaOp::create(
      builder, resultType, a, b, c, ArrayRef<int64_t>{16, 8, 16},
      /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
      std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> d;
  for (int64_t m = 0; m < 4; ++m)
    d.push_back(LLVM::ExtractValueOp::create(builder, op.getResult(), m));
  return vector::FromElementsOp::create(builder, acc.getType(), d);
}

Value KernelBuilder::shuffleXor(Value v, int64_t offset) {
  auto shuffle = [&](Value x) -> Value {
    return gpu::ShuffleOp::create(builder, x, offset, kWarpSize,
                                  gpu::ShuffleMode::XOR)
        .getShuffleResult();
  };
  auto vector = dyn_cast<VectorType>(v.getType());
  if (!vector)
    return shuffle(v);
  SmallVector<Value> elements;
  for (int64_t i = 0, e = vector.getNumElements(); i < e; ++i)
    elements.push_back(shuffle(vector::ExtractOp::create(builder, v, i)));
  return vector::FromElementsOp::create(builder, vector, elements);
}

Value KernelBuilder::shuffleIdx(Value v, Value lane) {
  Value lane32 =
      arith::IndexCastUIOp::create(builder, builder.getI32Type(), lane);
  return gpu::ShuffleOp::create(builder, v, lane32, i32(kWarpSize),
                                gpu::ShuffleMode::IDX)
      .getShuffleResult();
}

Value KernelBuilder::groupReduce(Value v, ReduceKind kind, int64_t lanes) {
  assert(llvm::isPowerOf2_64(lanes) && lanes <= kWarpSize &&
         "lane groups are aligned powers of two");
  for (int64_t offset = lanes / 2; offset > 0; offset /= 2)
    v = combine(v, shuffleXor(v, offset), kind);
  return v;
}

void KernelBuilder::forEachThread(int64_t total,
                                  function_ref<void(Value)> body) {
  int64_t threads = blockSize();
  for (int64_t base = 0; base < total; base += threads) {
    Value i = add(threadId(), index(base));
    if (base + threads <= total) {
      body(i);
      continue;
    }
    ifThen(cmp(arith::CmpIPredicate::ult, i, index(total)), [&] { body(i); });
  }
}

//===----------------------------------------------------------------------===//
// Thread-block clusters
//===----------------------------------------------------------------------===//

void KernelBuilder::setClusterDims(std::array<int64_t, 3> dims) {
  assert(kernel && "cluster dimensions are set on the created kernel");
  kernel->setAttr(NVVM::NVVMDialect::getClusterDimAttrName(),
                  builder.getDenseI32ArrayAttr(
                      {int32_t(dims[0]), int32_t(dims[1]), int32_t(dims[2])}));
}

void KernelBuilder::clusterBarrier() {
  NVVM::ClusterArriveOp::create(builder, builder.getUnitAttr());
  NVVM::ClusterWaitOp::create(builder, builder.getUnitAttr());
}

Value KernelBuilder::sharedPointer(Value address, Value rank) {
  MLIRContext *context = builder.getContext();
  auto pointerType = [&](NVVM::NVVMMemorySpace space) {
    return LLVM::LLVMPointerType::get(context, unsigned(space));
  };
  Value bits =
      arith::IndexCastUIOp::create(builder, builder.getI64Type(), address);
  Value pointer = LLVM::IntToPtrOp::create(
      builder, pointerType(NVVM::NVVMMemorySpace::Shared), bits);
  if (!rank)
    return pointer;
  Value rank32 =
      arith::IndexCastUIOp::create(builder, builder.getI32Type(), rank);
  return NVVM::MapaOp::create(builder,
                              pointerType(NVVM::NVVMMemorySpace::SharedCluster),
                              pointer, rank32);
}

Value KernelBuilder::loadPointer(Value pointer, Value byteOffset, Type type,
                                 int64_t alignment) {
  Value offset =
      arith::IndexCastUIOp::create(builder, builder.getI64Type(), byteOffset);
  Value at =
      LLVM::GEPOp::create(builder, pointer.getType(), builder.getI8Type(),
                          pointer, ValueRange{offset});
  return LLVM::LoadOp::create(builder, type, at, alignment);
}

//===----------------------------------------------------------------------===//
// Rowwise kernels
//===----------------------------------------------------------------------===//

GridExtent rowwiseColumnBlocks(int64_t columns, int64_t vectorWidth) {
  int64_t groups = llvm::divideCeil(columns, vectorWidth);
  return {int64_t(llvm::divideCeil(groups, kRowwiseBlock)),
          GridExtent::Scale::One};
}

void emitRowwiseBody(KernelBuilder &kb, int64_t columns, int64_t vectorWidth,
                     function_ref<void(Value, Value)> body) {
  Value row = kb.blockId(gpu::Dimension::y);
  Value group =
      kb.add(kb.mul(kb.blockId(), kb.index(kRowwiseBlock)), kb.threadId());
  Value col = kb.mul(group, kb.index(vectorWidth));
  if (columns % (vectorWidth * kRowwiseBlock) == 0) {
    body(row, col);
    return;
  }
  kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, col, kb.index(columns)),
            [&] { body(row, col); });
}

} // namespace infer
