// RUN: infer-opt --convert-decode-to-gpu --split-input-file --verify-diagnostics %s

!cache = !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 96, block_size = 16, dtype = bf16>

func.func @head_dim(%q: tensor<?x384xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x384xbf16> {
  // expected-error @+1 {{GPU lowering supports power-of-two head_dim in [8, 256], got 96}}
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.1 : f32} : tensor<?x384xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x384xbf16>
  return %o : tensor<?x384xbf16>
}

// -----

!cache = !decode.kv_cache<layers = 1, kv_heads = 2, head_dim = 128, block_size = 1, dtype = bf16>

func.func @block_size(%q: tensor<?x512xbf16>, %c: !cache, %bt: tensor<?x?xi32>, %cl: tensor<?xi32>, %qs: tensor<?xi32>) -> tensor<?x512xbf16> {
  // expected-error @+1 {{GPU lowering needs a power-of-two block_size of at least 2 for head_dim 128}}
  %o = decode.paged_attention %q, %c[%bt, %cl, %qs] {layer = 0 : i64, num_heads = 4 : i64, scale = 0.1 : f32} : tensor<?x512xbf16>, !cache, tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<?x512xbf16>
  return %o : tensor<?x512xbf16>
}
