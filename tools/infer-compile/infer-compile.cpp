//===- infer-compile.cpp - ahead-of-time compiler driver ------------------===//
//
// infer-compile <model-dir | config.json | step.mlir> -o out.art
//
// Builds (or parses) the decode step, runs an optional pass pipeline and the
// target's lowering, and writes the artifact of docs/artifact.md, or the IR
// with --emit-mlir.
//
//===----------------------------------------------------------------------===//

#include "infer/Frontend/ModelConfig.h"
#include "infer/Frontend/StepBuilder.h"
#include "infer/InitInfer.h"
#include "infer/Target/Artifact/ArtifactWriter.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class Target { Cpu, Cuda };

constexpr llvm::StringLiteral kCudaPipeline = "infer-decode-to-cuda-pipeline";

cl::OptionCategory category("infer-compile options");

cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<model-dir | config.json | "
                                        "step.mlir>"),
                               cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("Output file ('-': stdout)"),
                                cl::value_desc("file"), cl::cat(category));
cl::opt<bool> emitMlir("emit-mlir",
                       cl::desc("Print the IR after the pipeline instead of "
                                "writing the artifact"),
                       cl::cat(category));
cl::opt<decode::StepRole>
    role("role", cl::desc("Role of the step built from a config"),
         cl::init(decode::StepRole::Decode),
         cl::values(clEnumValN(decode::StepRole::Decode, "decode", "decode"),
                    clEnumValN(decode::StepRole::Prefill, "prefill", "prefill"),
                    clEnumValN(decode::StepRole::Verify, "verify", "verify"),
                    clEnumValN(decode::StepRole::Draft, "draft", "draft")),
         cl::cat(category));
cl::opt<unsigned> blockSize("block-size",
                            cl::desc("Tokens per KV cache page (power of two)"),
                            cl::init(16), cl::cat(category));
cl::opt<std::string>
    pipeline("pipeline",
             cl::desc("Textual pass pipeline run before writing, e.g. "
                      "'canonicalize,cse' or 'builtin.module(...)'"),
             cl::cat(category));
cl::opt<Target>
    target("target", cl::desc("Code generation target"), cl::init(Target::Cpu),
           cl::values(clEnumValN(Target::Cpu, "cpu",
                                 "op graph for the CPU reference backend"),
                      clEnumValN(Target::Cuda, "cuda",
                                 "also run "
                                 "infer-decode-to-cuda-pipeline")),
           cl::cat(category));

cl::opt<std::string> targetOptions(
    "target-options",
    cl::desc("Options of the target's pipeline, e.g. 'chip=sm_90 format=bin' "
             "for --target cuda"),
    cl::cat(category));

LogicalResult fail(const llvm::Twine &message) {
  llvm::errs() << "infer-compile: error: " << message << "\n";
  return failure();
}

/// Builds the step from a config.json (or a model directory holding one).
OwningOpRef<ModuleOp> buildFromConfig(MLIRContext &context,
                                      StringRef configPath) {
  llvm::Expected<infer::ModelConfig> config =
      infer::loadModelConfig(configPath);
  if (!config) {
    (void)fail(llvm::toString(config.takeError()));
    return nullptr;
  }
  if (blockSize == 0 || !llvm::isPowerOf2_32(blockSize)) {
    (void)fail("--block-size must be a power of two, got " +
               llvm::Twine(blockSize.getValue()));
    return nullptr;
  }
  infer::StepOptions options;
  options.role = role;
  options.blockSize = blockSize;
  return infer::buildStepModule(context, *config, options);
}

OwningOpRef<ModuleOp> parseMlir(MLIRContext &context,
                                llvm::SourceMgr &sourceMgr) {
  for (const cl::Option *opt : {static_cast<const cl::Option *>(&role),
                                static_cast<const cl::Option *>(&blockSize)})
    if (opt->getNumOccurrences()) {
      (void)fail("--" + opt->ArgStr +
                 " applies to config inputs only; a .mlir step carries its "
                 "own role and kv_cache type");
      return nullptr;
    }
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file = openInputFile(inputPath, &error);
  if (!file) {
    (void)fail(error);
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  return parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
}

OwningOpRef<ModuleOp> loadInput(MLIRContext &context,
                                llvm::SourceMgr &sourceMgr) {
  StringRef path = inputPath;
  if (llvm::sys::fs::is_directory(path)) {
    llvm::SmallString<256> config(path);
    llvm::sys::path::append(config, "config.json");
    return buildFromConfig(context, config);
  }
  StringRef ext = llvm::sys::path::extension(path);
  if (ext == ".mlir" || ext == ".mlirbc")
    return parseMlir(context, sourceMgr);
  return buildFromConfig(context, path);
}

/// Adds --pipeline and the target's lowering to `pm`.
LogicalResult buildPipeline(PassManager &pm) {
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  StringRef text = StringRef(pipeline).trim();
  if (text.consume_front("builtin.module(") && !text.consume_back(")"))
    return fail("invalid --pipeline: unbalanced 'builtin.module('");
  if (!text.empty() && failed(parsePassPipeline(text, pm, errorStream)))
    return fail("invalid --pipeline '" + pipeline + "': " + errors);
  if (target != Target::Cuda) {
    if (!targetOptions.empty())
      return fail("--target-options needs --target cuda");
    return success();
  }
  const PassPipelineInfo *cuda = PassPipelineInfo::lookup(kCudaPipeline);
  if (!cuda)
    return fail("--target cuda needs the '" + kCudaPipeline +
                "' pipeline, which this build does not register; use "
                "--target cpu or rebuild with lib/Pipelines");
  std::string detail;
  if (succeeded(cuda->addToPipeline(pm, targetOptions,
                                    [&](const llvm::Twine &message) {
                                      detail = ": " + message.str();
                                      return failure();
                                    })))
    return success();
  return fail("invalid --target-options '" + targetOptions + "' for " +
              kCudaPipeline + detail);
}

LogicalResult compile(MLIRContext &context, TimingScope &timing) {
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  TimingScope loadTiming = timing.nest("load input");
  OwningOpRef<ModuleOp> module = loadInput(context, sourceMgr);
  if (!module)
    return failure();
  loadTiming.stop();

  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)) || failed(buildPipeline(pm)))
    return failure();
  if (!pm.empty()) {
    TimingScope passTiming = timing.nest("pipeline");
    pm.enableTiming(passTiming);
    if (failed(pm.run(*module)))
      return failure();
  }

  StringRef output = outputPath;
  if (output.empty()) {
    if (!emitMlir)
      return fail("no output file: pass -o <file.art> (or --emit-mlir)");
    output = "-";
  }
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> file = openOutputFile(output, &error);
  if (!file)
    return fail(error);
  TimingScope writeTiming = timing.nest("write output");
  if (emitMlir)
    module->print(file->os());
  else if (failed(infer::writeArtifact(*module, file->os())))
    return failure();
  file->keep();
  return success();
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  infer::registerPasses();
  // --help lists infer-compile's own options; MLIR's and LLVM's (e.g.
  // --mlir-timing) still work and are listed by --help-hidden.
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *option = entry.second;
    if (!llvm::is_contained(option->Categories, &category) &&
        !option->ArgStr.starts_with("help") && option->ArgStr != "version")
      option->setHiddenFlag(cl::Hidden);
  }
  cl::ParseCommandLineOptions(
      argc, argv,
      "infer ahead-of-time compiler: HF model dir, config.json or decode "
      "step .mlir -> .art artifact\n\n"
      "MLIR's and LLVM's options (--mlir-timing, --mlir-print-ir-after-all, "
      "...) are listed by --help-hidden.\n");

  DialectRegistry registry;
  infer::registerDialects(registry);
  MLIRContext context(registry);

  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timing = timingManager.getRootScope();
  return failed(compile(context, timing)) ? 1 : 0;
}
