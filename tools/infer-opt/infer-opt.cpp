//===- infer-opt.cpp - infer optimizer driver -----------------------------===//

#include "infer/InitInfer.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  infer::registerDialects(registry);
  infer::registerPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "infer: decode-step optimizer and lowering driver\n",
      registry));
}
