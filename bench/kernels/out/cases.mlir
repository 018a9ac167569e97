func.func @lin_qkv_t1(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_t1(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_down_t1(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 1>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_o_t1(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_lm_head_t1(%x: tensor<?x4096xbf16>) -> tensor<?x128256xf32> {
  %w = decode.weight ["w"] : tensor<128256x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<128256x4096xbf16>) -> tensor<?x128256xf32>
  return %y : tensor<?x128256xf32>
}

func.func @lin_down_t1_ks2(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 2>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_down_t1_ks4(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 4>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_qkv_t8(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 8, kind = gemv, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_down_t8_ks2(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 8, kind = gemv, k_split = 2>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_norm_bias_t4(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %b = decode.weight ["b"] : tensor<6144xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<6144xbf16>) norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 4, kind = gemv, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_norm_res_ks7_t2(%x: tensor<?x14336xbf16>, %r: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %g = decode.weight ["g"] : tensor<14336xbf16>
  %y = decode.linear %x, %w residual(%r : tensor<?x4096xbf16>) norm(%g : tensor<14336xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 2, kind = gemv, k_split = 7>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_odd_t3(%x: tensor<?x520xbf16>, %r: tensor<?x1003xbf16>) -> tensor<?x1003xbf16> {
  %w = decode.weight ["w"] : tensor<1003x520xbf16>
  %b = decode.weight ["b"] : tensor<1003xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<1003xbf16>) residual(%r : tensor<?x1003xbf16>) {variants = [#decode.variant<max_tokens = 4, kind = gemv, k_split = 1>]} : (tensor<?x520xbf16>, tensor<1003x520xbf16>) -> tensor<?x1003xbf16>
  return %y : tensor<?x1003xbf16>
}

func.func @lin_any_t5(%x: tensor<?x2048xbf16>) -> tensor<?x1024xbf16> {
  %w = decode.weight ["w"] : tensor<1024x2048xbf16>
  %g = decode.weight ["g"] : tensor<2048xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<2048xbf16>) {norm_epsilon = 1.0e-05 : f32} : (tensor<?x2048xbf16>, tensor<1024x2048xbf16>) -> tensor<?x1024xbf16>
  return %y : tensor<?x1024xbf16>
}

func.func @lin_mma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_qkv_mma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_mma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_down_mma_t64(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = mma, k_split = 1>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_qkv_mma_t8(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 8, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_qkv_mma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 16, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_mma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 16, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_down_mma_t16(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 16, kind = mma, k_split = 1>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_lm_head_mma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x128256xf32> {
  %w = decode.weight ["w"] : tensor<128256x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 16, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<128256x4096xbf16>) -> tensor<?x128256xf32>
  return %y : tensor<?x128256xf32>
}

func.func @lin_lm_head_mma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x128256xf32> {
  %w = decode.weight ["w"] : tensor<128256x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<128256x4096xbf16>) -> tensor<?x128256xf32>
  return %y : tensor<?x128256xf32>
}

func.func @lin_mma_fused_t16(%x: tensor<?x4096xbf16>, %r: tensor<?x6144xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %b = decode.weight ["b"] : tensor<6144xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<6144xbf16>) residual(%r : tensor<?x6144xbf16>) norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 16, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_mma_odd_t256(%x: tensor<?x544xbf16>) -> tensor<?x1003xbf16> {
  %w = decode.weight ["w"] : tensor<1003x544xbf16>
  %b = decode.weight ["b"] : tensor<1003xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<1003xbf16>) {variants = [#decode.variant<max_tokens = 256, kind = mma, k_split = 1>]} : (tensor<?x544xbf16>, tensor<1003x544xbf16>) -> tensor<?x1003xbf16>
  return %y : tensor<?x1003xbf16>
}

func.func @lin_qkv_wgmma_t4(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_wgmma_t4(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_down_wgmma_t4(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_o_wgmma_t4(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_qkv_wgmma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_wgmma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_down_wgmma_t16(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_o_wgmma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_qkv_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_down_wgmma_t64(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_o_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_qkv_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_down_wgmma_t128(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_o_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_qkv_wgmma_t256(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_wgmma_t256(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_down_wgmma_t256(%x: tensor<?x14336xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x14336xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x14336xbf16>, tensor<4096x14336xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_o_wgmma_t256(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_qkv_rms_wgmma_t4(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_qkv_norm_wgmma_t4(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_rms_wgmma_t4(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_gate_up_norm_wgmma_t4(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_qkv_rms_wgmma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_qkv_norm_wgmma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_rms_wgmma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_gate_up_norm_wgmma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_qkv_rms_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_qkv_norm_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_rms_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_gate_up_norm_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_qkv_rms_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_qkv_norm_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_rms_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_gate_up_norm_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_qkv_rms_wgmma_t256(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_qkv_norm_wgmma_t256(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_gate_up_rms_wgmma_t256(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_gate_up_norm_wgmma_t256(%x: tensor<?x4096xbf16>) -> tensor<?x28672xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x28672xbf16>
  return %y : tensor<?x28672xbf16>
}

func.func @lin_wgmma_rms_odd_ks3_t64(%x: tensor<?x1536xbf16>, %r: tensor<?x1003xbf16>) -> tensor<?x1003xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<1003x1536xbf16>
  %b = decode.weight ["b"] : tensor<1003xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<1003xbf16>) residual(%r : tensor<?x1003xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 3>]} : (tensor<?x1536xbf16>, tensor<1003x1536xbf16>) -> tensor<?x1003xbf16>
  return %y : tensor<?x1003xbf16>
}

func.func @lin_wgmma_rms_t256(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_wgmma_rms_t8(%x: tensor<?x1088xbf16>) -> tensor<?x1000xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<1000x1088xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 8, kind = wgmma, k_split = 1>]} : (tensor<?x1088xbf16>, tensor<1000x1088xbf16>) -> tensor<?x1000xbf16>
  return %y : tensor<?x1000xbf16>
}

func.func @lin_gate_up_act_gemv_t1(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @lin_gate_up_act_wgmma_t4(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @lin_gate_up_act_wgmma_t16(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @lin_gate_up_act_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @lin_gate_up_act_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @lin_gate_up_act_wgmma_t256(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @lin_gate_up_act_plain_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @lin_gate_up_act_plain_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x14336xbf16> {
  %w = decode.weight ["w"] : tensor<28672x4096xbf16>
  %y = decode.linear %x, %w {activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<28672x4096xbf16>) -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @lin_act_odd_ks3_t64(%x: tensor<?x1536xbf16>) -> tensor<?x1002xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<2004x1536xbf16>
  %b = decode.weight ["b"] : tensor<2004xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<2004xbf16>) {norm_epsilon = 1.0e-05 : f32, activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 3>]} : (tensor<?x1536xbf16>, tensor<2004x1536xbf16>) -> tensor<?x1002xbf16>
  return %y : tensor<?x1002xbf16>
}

func.func @lin_act_ks10_t16(%x: tensor<?x2560xbf16>) -> tensor<?x1024xbf16> {
  %w = decode.weight ["w"] : tensor<2048x2560xbf16>
  %y = decode.linear %x, %w {activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 10>]} : (tensor<?x2560xbf16>, tensor<2048x2560xbf16>) -> tensor<?x1024xbf16>
  return %y : tensor<?x1024xbf16>
}

func.func @lin_act_mma_t16(%x: tensor<?x512xbf16>) -> tensor<?x512xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<1024x512xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 16, kind = mma, k_split = 1>]} : (tensor<?x512xbf16>, tensor<1024x512xbf16>) -> tensor<?x512xbf16>
  return %y : tensor<?x512xbf16>
}

func.func @lin_act_gemv_ks2_t4(%x: tensor<?x1024xbf16>) -> tensor<?x500xbf16> {
  %w = decode.weight ["w"] : tensor<1000x1024xbf16>
  %y = decode.linear %x, %w {activation = #decode.activation<silu_mul>, variants = [#decode.variant<max_tokens = 4, kind = gemv, k_split = 2>]} : (tensor<?x1024xbf16>, tensor<1000x1024xbf16>) -> tensor<?x500xbf16>
  return %y : tensor<?x500xbf16>
}

func.func @lin_qkv_rms_t1(%x: tensor<?x4096xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 1, kind = gemv, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_rms_mma_t16(%x: tensor<?x4096xbf16>, %r: tensor<?x6144xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<6144x4096xbf16>
  %y = decode.linear %x, %w residual(%r : tensor<?x6144xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 16, kind = mma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_rms_ks4_t8(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] scaled_by "g" : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 8, kind = gemv, k_split = 4>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_lm_head_wgmma_t64(%x: tensor<?x4096xbf16>) -> tensor<?x128256xf32> {
  %w = decode.weight ["w"] : tensor<128256x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<128256x4096xbf16>) -> tensor<?x128256xf32>
  return %y : tensor<?x128256xf32>
}

func.func @lin_lm_head_wgmma_t128(%x: tensor<?x4096xbf16>) -> tensor<?x128256xf32> {
  %w = decode.weight ["w"] : tensor<128256x4096xbf16>
  %y = decode.linear %x, %w {variants = [#decode.variant<max_tokens = 128, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<128256x4096xbf16>) -> tensor<?x128256xf32>
  return %y : tensor<?x128256xf32>
}

func.func @lin_wgmma_fused_t64(%x: tensor<?x4096xbf16>, %r: tensor<?x6144xbf16>) -> tensor<?x6144xbf16> {
  %w = decode.weight ["w"] : tensor<6144x4096xbf16>
  %b = decode.weight ["b"] : tensor<6144xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<6144xbf16>) residual(%r : tensor<?x6144xbf16>) norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<6144x4096xbf16>) -> tensor<?x6144xbf16>
  return %y : tensor<?x6144xbf16>
}

func.func @lin_wgmma_norm_t256(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.linear %x, %w norm(%g : tensor<4096xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @lin_wgmma_odd_t256(%x: tensor<?x576xbf16>) -> tensor<?x1003xbf16> {
  %w = decode.weight ["w"] : tensor<1003x576xbf16>
  %b = decode.weight ["b"] : tensor<1003xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<1003xbf16>) {variants = [#decode.variant<max_tokens = 256, kind = wgmma, k_split = 1>]} : (tensor<?x576xbf16>, tensor<1003x576xbf16>) -> tensor<?x1003xbf16>
  return %y : tensor<?x1003xbf16>
}

func.func @lin_wgmma_odd_t4(%x: tensor<?x576xbf16>, %r: tensor<?x1003xbf16>) -> tensor<?x1003xbf16> {
  %w = decode.weight ["w"] : tensor<1003x576xbf16>
  %b = decode.weight ["b"] : tensor<1003xbf16>
  %g = decode.weight ["g"] : tensor<576xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<1003xbf16>) residual(%r : tensor<?x1003xbf16>) norm(%g : tensor<576xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 4, kind = wgmma, k_split = 1>]} : (tensor<?x576xbf16>, tensor<1003x576xbf16>) -> tensor<?x1003xbf16>
  return %y : tensor<?x1003xbf16>
}

func.func @lin_wgmma_ks2_t16(%x: tensor<?x1088xbf16>, %r: tensor<?x1000xbf16>) -> tensor<?x1000xbf16> {
  %w = decode.weight ["w"] : tensor<1000x1088xbf16>
  %g = decode.weight ["g"] : tensor<1088xbf16>
  %y = decode.linear %x, %w residual(%r : tensor<?x1000xbf16>) norm(%g : tensor<1088xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 2>]} : (tensor<?x1088xbf16>, tensor<1000x1088xbf16>) -> tensor<?x1000xbf16>
  return %y : tensor<?x1000xbf16>
}

func.func @lin_wgmma_odd_ks3_t64(%x: tensor<?x1536xbf16>, %r: tensor<?x1003xbf16>) -> tensor<?x1003xbf16> {
  %w = decode.weight ["w"] : tensor<1003x1536xbf16>
  %b = decode.weight ["b"] : tensor<1003xbf16>
  %g = decode.weight ["g"] : tensor<1536xbf16>
  %y = decode.linear %x, %w bias(%b : tensor<1003xbf16>) residual(%r : tensor<?x1003xbf16>) norm(%g : tensor<1536xbf16>) {norm_epsilon = 1.0e-05 : f32, variants = [#decode.variant<max_tokens = 64, kind = wgmma, k_split = 3>]} : (tensor<?x1536xbf16>, tensor<1003x1536xbf16>) -> tensor<?x1003xbf16>
  return %y : tensor<?x1003xbf16>
}

func.func @lin_wgmma_f32_ks8_t16(%x: tensor<?x4096xbf16>, %r: tensor<?x4096xf32>) -> tensor<?x4096xf32> {
  %w = decode.weight ["w"] : tensor<4096x4096xbf16>
  %y = decode.linear %x, %w residual(%r : tensor<?x4096xf32>) {variants = [#decode.variant<max_tokens = 16, kind = wgmma, k_split = 8>]} : (tensor<?x4096xbf16>, tensor<4096x4096xbf16>) -> tensor<?x4096xf32>
  return %y : tensor<?x4096xf32>
}

func.func @rms_norm(%x: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %g = decode.weight ["g"] : tensor<4096xbf16>
  %y = decode.rms_norm %x, %g {epsilon = 1.0e-05 : f32} : tensor<?x4096xbf16>, tensor<4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @rms_norm_odd(%x: tensor<?x1000xbf16>) -> tensor<?x1000xbf16> {
  %g = decode.weight ["g"] : tensor<1000xbf16>
  %y = decode.rms_norm %x, %g {epsilon = 1.0e-06 : f32} : tensor<?x1000xbf16>, tensor<1000xbf16>
  return %y : tensor<?x1000xbf16>
}

func.func @add(%a: tensor<?x4096xbf16>, %b: tensor<?x4096xbf16>) -> tensor<?x4096xbf16> {
  %y = decode.add %a, %b : tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @silu_mul_packed(%gu: tensor<?x28672xbf16>) -> tensor<?x14336xbf16> {
  %y = decode.silu_mul %gu : tensor<?x28672xbf16> -> tensor<?x14336xbf16>
  return %y : tensor<?x14336xbf16>
}

func.func @silu_mul(%g: tensor<?x1000xbf16>, %u: tensor<?x1000xbf16>) -> tensor<?x1000xbf16> {
  %y = decode.silu_mul %g, %u : tensor<?x1000xbf16>, tensor<?x1000xbf16> -> tensor<?x1000xbf16>
  return %y : tensor<?x1000xbf16>
}

func.func @embed(%t: tensor<?xi32>) -> tensor<?x4096xbf16> {
  %e = decode.weight ["e"] : tensor<5000x4096xbf16>
  %y = decode.embed %t, %e : (tensor<?xi32>, tensor<5000x4096xbf16>) -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @slice(%x: tensor<?x6144xbf16>) -> tensor<?x1024xbf16> {
  %y = decode.slice %x[4096] : tensor<?x6144xbf16> -> tensor<?x1024xbf16>
  return %y : tensor<?x1024xbf16>
}

func.func @gather_tokens(%x: tensor<?x4096xbf16>, %i: tensor<?xi32>) -> tensor<?x4096xbf16> {
  %y = decode.gather_tokens %x[%i] : tensor<?x4096xbf16>, tensor<?xi32> -> tensor<?x4096xbf16>
  return %y : tensor<?x4096xbf16>
}

func.func @sample(%l: tensor<?x128256xf32>, %t: tensor<?xf32>, %k: tensor<?xi32>, %p: tensor<?xf32>, %s: tensor<?xi64>) -> tensor<?xi32> {
  %y = decode.sample %l, %t, %k, %p, %s : tensor<?x128256xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
  return %y : tensor<?xi32>
}

func.func @sample_odd(%l: tensor<?x1001xf32>, %t: tensor<?xf32>, %k: tensor<?xi32>, %p: tensor<?xf32>, %s: tensor<?xi64>) -> tensor<?xi32> {
  %y = decode.sample %l, %t, %k, %p, %s : tensor<?x1001xf32>, tensor<?xf32>, tensor<?xi32>, tensor<?xf32>, tensor<?xi64> -> tensor<?xi32>
  return %y : tensor<?xi32>
}

