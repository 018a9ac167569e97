// RUN: infer-opt %s --decode-select-kernels | FileCheck %s
// RUN: infer-opt %s --decode-select-kernels="buckets=32,4,16 num-sms=16" | FileCheck %s --check-prefix=OPT
// RUN: infer-opt %s --decode-select-kernels="buckets=1,4,64 wgmma=1" | FileCheck %s --check-prefix=WGMMA
// RUN: infer-opt %s --decode-select-kernels="buckets=1,4,64 wgmma=1 gemv-max-tokens=4" | FileCheck %s --check-prefix=WGMMA4
// RUN: not infer-opt %s --decode-select-kernels="buckets=0,8" 2>&1 | FileCheck %s --check-prefix=ERR
// RUN: not infer-opt %s --decode-select-kernels="gemv-max-tokens=-2" 2>&1 | FileCheck %s --check-prefix=ERR
// RUN: infer-opt %s --decode-select-kernels="attention-mma=0" | FileCheck %s --check-prefix=NOMMA

// ERR: decode-select-kernels: buckets and num-sms must be positive and gemv-max-tokens -1 or more

// Default buckets 1, 4 (gemv) and 16, 64, 128, 256 (mma) on 132 SMs; 8 rows per gemv
// block.
// - 512x256 (packed qkv): K < 512, no K split.
// - 1024x4096: 128 row blocks; 2 splits give 256 >= 132.
// - 256x4096: 32 row blocks; 8 splits of 512 columns.
// - 4096x4096: 512 row blocks already fill the SMs.
// - 128x2048: 16 row blocks would need 16 splits of 128 columns; none fills
//   the SMs with >= 512 columns per split, so 1.
// - 64x4096: 8 row blocks would need 32 splits; 1. On 16 SMs, 2 splits.

// CHECK-LABEL: func.func @shapes
// CHECK: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 64, kind = mma>, #decode.variant<max_tokens = 128, kind = mma>, #decode.variant<max_tokens = 256, kind = mma>]{{.*}}tensor<512x256xbf16>
// CHECK: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 2>, #decode.variant<max_tokens = 4, kind = gemv, k_split = 2>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 64, kind = mma>, #decode.variant<max_tokens = 128, kind = mma>, #decode.variant<max_tokens = 256, kind = mma>]{{.*}}tensor<1024x4096xbf16>
// CHECK: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 8>, #decode.variant<max_tokens = 4, kind = gemv, k_split = 8>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 64, kind = mma>, #decode.variant<max_tokens = 128, kind = mma>, #decode.variant<max_tokens = 256, kind = mma>]{{.*}}tensor<256x4096xbf16>
// CHECK: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 64, kind = mma>, #decode.variant<max_tokens = 128, kind = mma>, #decode.variant<max_tokens = 256, kind = mma>]{{.*}}tensor<4096x4096xbf16>
// CHECK: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 64, kind = mma>, #decode.variant<max_tokens = 128, kind = mma>, #decode.variant<max_tokens = 256, kind = mma>]{{.*}}tensor<128x2048xbf16>
// CHECK: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 64, kind = mma>, #decode.variant<max_tokens = 128, kind = mma>, #decode.variant<max_tokens = 256, kind = mma>]{{.*}}tensor<64x4096xbf16>

// Buckets are sorted; more than 4 tokens take the mma kernel.
// OPT-LABEL: func.func @shapes
// OPT: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 32, kind = mma>]{{.*}}tensor<512x256xbf16>
// OPT: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 32, kind = mma>]{{.*}}tensor<1024x4096xbf16>
// OPT: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 32, kind = mma>]{{.*}}tensor<256x4096xbf16>
// OPT: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 32, kind = mma>]{{.*}}tensor<4096x4096xbf16>
// OPT: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 32, kind = mma>]{{.*}}tensor<128x2048xbf16>
// OPT: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 4, kind = gemv, k_split = 2>, #decode.variant<max_tokens = 16, kind = mma>, #decode.variant<max_tokens = 32, kind = mma>]{{.*}}tensor<64x4096xbf16>
// With wgmma (sm_90a), tensor-core buckets take it where K is a multiple of
// its 64-column stage, from 2 tokens up; mma elsewhere, from 5 tokens up.
// WGMMA-LABEL: func.func @shapes
// WGMMA: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 4, kind = wgmma>, #decode.variant<max_tokens = 64, kind = wgmma>]{{.*}}tensor<512x256xbf16>
// WGMMA-LABEL: func.func @odd_k
// WGMMA: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 64, kind = mma>]{{.*}}tensor<256x544xbf16>
// gemv-max-tokens=4: the GEMV up to 4 tokens, wgmma or not.
// WGMMA4-LABEL: func.func @shapes
// WGMMA4: decode.linear {{.*}}variants = [#decode.variant<max_tokens = 1, kind = gemv>, #decode.variant<max_tokens = 4, kind = gemv>, #decode.variant<max_tokens = 64, kind = wgmma>]{{.*}}tensor<512x256xbf16>
func.func @shapes(%h: tensor<?x256xbf16>, %x: tensor<?x4096xbf16>, %y: tensor<?x2048xbf16>) -> (tensor<?x512xbf16>, tensor<?x1024xbf16>, tensor<?x256xbf16>, tensor<?x4096xbf16>, tensor<?x128xbf16>, tensor<?x64xbf16>) {
  %w0 = decode.weight ["qkv"] : tensor<512x256xbf16>
  %w1 = decode.weight ["w1"] : tensor<1024x4096xbf16>
  %w2 = decode.weight ["w2"] : tensor<256x4096xbf16>
  %w3 = decode.weight ["w3"] : tensor<4096x4096xbf16>
  %w4 = decode.weight ["w4"] : tensor<128x2048xbf16>
  %w5 = decode.weight ["w5"] : tensor<64x4096xbf16>
  %0 = decode.linear %h, %w0 : (tensor<?x256xbf16>, tensor<512x256xbf16>) -> tensor<?x512xbf16>
  %1 = decode.linear %x, %w1 : (tensor<?x4096xbf16>, tensor<1024x4096xbf16>) -> tensor<?x1024xbf16>
  %2 = decode.linear %x, %w2 : (tensor<?x4096xbf16>, tensor<256x4096xbf16>) -> tensor<?x256xbf16>
  %3 = decode.linear %x, %w3 {variants = [#decode.variant<max_tokens = 1, kind = mma>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  %4 = decode.linear %y, %w4 : (tensor<?x2048xbf16>, tensor<128x2048xbf16>) -> tensor<?x128xbf16>
  %5 = decode.linear %x, %w5 : (tensor<?x4096xbf16>, tensor<64x4096xbf16>) -> tensor<?x64xbf16>
  return %0, %1, %2, %3, %4, %5 : tensor<?x512xbf16>, tensor<?x1024xbf16>, tensor<?x256xbf16>, tensor<?x4096xbf16>, tensor<?x128xbf16>, tensor<?x64xbf16>
}

func.func @odd_k(%x: tensor<?x544xbf16>) -> tensor<?x256xbf16> {
  %w = decode.weight ["w"] : tensor<256x544xbf16>
  %0 = decode.linear %x, %w : (tensor<?x544xbf16>, tensor<256x544xbf16>) -> tensor<?x256xbf16>
  return %0 : tensor<?x256xbf16>
}

// Attention: tensor cores where the shapes fit and GQA gives them rows
// (group >= 2), CUDA cores for MHA, head_dim 96 and 8-token pages; a kernel
// chosen by hand stays.
// CHECK-LABEL: func.func @attention
// CHECK: decode.paged_attention {{.*}}{kernel = #decode.attention_kernel<mma>, {{.*}}tensor<?x4096xbf16>, !decode.kv_cache<layers = 1, kv_heads = 8, head_dim = 128
// CHECK: decode.paged_attention {{.*}}{kernel = #decode.attention_kernel<simt>, {{.*}}tensor<?x1024xbf16>, !decode.kv_cache<layers = 1, kv_heads = 8, head_dim = 128
// CHECK: decode.paged_attention {{.*}}{kernel = #decode.attention_kernel<simt>, {{.*}}!decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 96
// CHECK: decode.paged_attention {{.*}}{kernel = #decode.attention_kernel<simt>, {{.*}}!decode.kv_cache<layers = 1, kv_heads = 8, head_dim = 128, block_size = 8
// CHECK: decode.paged_attention {{.*}}{kernel = #decode.attention_kernel<simt>, {{.*}}tensor<?x4096xbf16>, !decode.kv_cache<layers = 1, kv_heads = 8, head_dim = 128
// NOMMA-LABEL: func.func @attention
// NOMMA-COUNT-4: decode.paged_attention {{.*}}{kernel = #decode.attention_kernel<simt>,
// NOMMA-NOT: attention_kernel<mma>
!gqa = !decode.kv_cache<layers = 1, kv_heads = 8, head_dim = 128, block_size = 16, dtype = bf16>
!hd96 = !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 96, block_size = 16, dtype = bf16>
!page8 = !decode.kv_cache<layers = 1, kv_heads = 8, head_dim = 128, block_size = 8, dtype = bf16>
func.func @attention(%q: tensor<?x4096xbf16>, %m: tensor<?x1024xbf16>, %q96: tensor<?x384xbf16>, %c: !gqa, %c96: !hd96, %c8: !page8, %bt: tensor<?x?xi32>, %l: tensor<?xi32>) -> (tensor<?x4096xbf16>, tensor<?x1024xbf16>, tensor<?x384xbf16>, tensor<?x4096xbf16>, tensor<?x4096xbf16>) {
  %0 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 32 : i64, scale = 0.125 : f32} : tensor<?x4096xbf16>, !gqa, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  %1 = decode.paged_attention %m, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 8 : i64, scale = 0.125 : f32} : tensor<?x1024xbf16>, !gqa, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x1024xbf16>
  %2 = decode.paged_attention %q96, %c96[%bt, %l, %l] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.125 : f32} : tensor<?x384xbf16>, !hd96, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x384xbf16>
  %3 = decode.paged_attention %q, %c8[%bt, %l, %l] {layer = 0 : i64, num_heads = 32 : i64, scale = 0.125 : f32} : tensor<?x4096xbf16>, !page8, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  %4 = decode.paged_attention %q, %c[%bt, %l, %l] {layer = 0 : i64, num_heads = 32 : i64, scale = 0.125 : f32, kernel = #decode.attention_kernel<simt>} : tensor<?x4096xbf16>, !gqa, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %0, %1, %2, %3, %4 : tensor<?x4096xbf16>, tensor<?x1024xbf16>, tensor<?x384xbf16>, tensor<?x4096xbf16>, tensor<?x4096xbf16>
}
