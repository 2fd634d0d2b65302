#pragma once
// bfloat16 products with float32 sums: an opt-in precision for the heavy GEMMs
// of the LSTM engine, on CPUs with AVX512_BF16 (Zen 4, Cooper Lake, Sapphire
// Rapids and later).
//
// bf16 keeps float32's 8 exponent bits and 7 of its 23 mantissa bits, so a
// value is rounded to about 3 significant digits (relative error ≤ 2⁻⁸) but
// never overflows where a float would not. The instruction vdpbf16ps takes 32
// bf16 pairs and adds each pair's dot product into 16 float lanes, which is
// twice the multiply rate of the float FMA on Zen 4 (bench: bf16_dot_peak
// against fma_peak). The product of two bf16 values is exact in float32; only
// the inputs are rounded, and all sums stay in float32.
//
// The setting is process-wide, like PyTorch's torch.set_float32_matmul_precision:
//
//   legato::set_matmul_precision(legato::MatmulPrecision::bf16);
//
// What it changes (and nothing else): lstm_sequence's recurrent products
// h_{t-1}·W_hhᵀ and dz_{t+1}·W_hh and its weight gradient dW_hh, and the
// W_hh·h of an LstmInferLayer built while it is set. Parameters,
// optimiser state, activations and every other op stay float32, so
// checkpoints do not change. The default is fp32, which the gradient checks
// and PyTorch goldens test bit for bit against float references.

#include <bit>
#include <cstdint>
#include <string>

#include "legato/util/error.hpp"

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
#define LEGATO_HAVE_BF16 1
#include <immintrin.h>
#else
#define LEGATO_HAVE_BF16 0
#endif

namespace legato {

enum class MatmulPrecision { fp32, bf16 };

// Whether this build (its -march) can run the bf16 engine.
constexpr bool bf16_supported() { return LEGATO_HAVE_BF16 == 1; }

namespace detail {
inline MatmulPrecision& matmul_precision_slot() {
  static MatmulPrecision precision = MatmulPrecision::fp32;
  return precision;
}
}  // namespace detail

inline MatmulPrecision matmul_precision() { return detail::matmul_precision_slot(); }

// Set it from one thread, outside parallel regions. An op reads it when its
// forward runs, and its backward uses the same precision whatever the
// setting is by then.
inline void set_matmul_precision(MatmulPrecision precision) {
  check(precision == MatmulPrecision::fp32 || bf16_supported(),
        "set_matmul_precision: bf16 needs a CPU with AVX512_BF16 and a build for it (-march=native on one)");
  detail::matmul_precision_slot() = precision;
}

// Sets the precision for a scope and restores the previous one at its end.
class MatmulPrecisionScope {
 public:
  explicit MatmulPrecisionScope(MatmulPrecision precision) : previous_(matmul_precision()) {
    set_matmul_precision(precision);
  }
  ~MatmulPrecisionScope() { detail::matmul_precision_slot() = previous_; }
  MatmulPrecisionScope(const MatmulPrecisionScope&) = delete;
  MatmulPrecisionScope& operator=(const MatmulPrecisionScope&) = delete;

 private:
  MatmulPrecision previous_;
};

inline const char* precision_name(MatmulPrecision precision) {
  return precision == MatmulPrecision::bf16 ? "bf16" : "fp32";
}

// "fp32", "bf16", or "auto" (bf16 where this build supports it, else fp32);
// anything else is an error naming the value.
inline MatmulPrecision parse_matmul_precision(const std::string& text) {
  if (text == "fp32") return MatmulPrecision::fp32;
  if (text == "bf16") return MatmulPrecision::bf16;
  if (text == "auto") return bf16_supported() ? MatmulPrecision::bf16 : MatmulPrecision::fp32;
  fail("precision '", text, "' is not fp32, bf16 or auto");
}

// Whether the bf16 engine should run now.
inline bool use_bf16() { return bf16_supported() && matmul_precision() == MatmulPrecision::bf16; }

}  // namespace legato

#if LEGATO_HAVE_BF16
namespace legato::bf16 {

// vdpbf16ps wants its operands as pairs along the summed dimension k: lane n
// of a 32-bit word holds (x[k][n], x[k+1][n]). These helpers write that layout.

// Interleaves 16 columns of two float rows into 32 bf16, pair by pair:
// out = [r0[0], r1[0], r0[1], r1[1], …, r0[15], r1[15]], rounded to nearest even.
inline __m512i pair_16(__m512 row0, __m512 row1) {
  // cvtne2ps puts row0 in the low 16 bf16 and row1 in the high 16; the
  // permutation then takes them alternately.
  const __m512i halves = std::bit_cast<__m512i>(_mm512_cvtne2ps_pbh(row1, row0));
  const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,  //
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(order, halves);
}

// The same for the first `count` ≤ 16 columns (the rest read as zero).
inline __m512i pair_partial(const float* row0, const float* row1, int count) {
  const __mmask16 mask = static_cast<__mmask16>((1u << count) - 1u);
  const __m512 zero = _mm512_setzero_ps();
  return pair_16(row0 ? _mm512_maskz_loadu_ps(mask, row0) : zero, row1 ? _mm512_maskz_loadu_ps(mask, row1) : zero);
}

// Rounds 16 floats to bf16 (nearest even) and stores them as 16 uint16.
inline void store_16(std::uint16_t* out, __m512 values) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), std::bit_cast<__m256i>(_mm512_cvtneps_pbh(values)));
}

// Rounds n floats to bf16 into out.
inline void convert(const float* in, std::uint16_t* out, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) store_16(out + i, _mm512_loadu_ps(in + i));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m256i packed = std::bit_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, in + i)));
    _mm256_mask_storeu_epi16(out + i, mask, packed);
  }
}

// The float a bf16 value stands for (exact).
inline float to_float(std::uint16_t value) {
  const std::uint32_t bits = static_cast<std::uint32_t>(value) << 16;
  float out;
  __builtin_memcpy(&out, &bits, sizeof out);
  return out;
}

// acc (16 floats) += Σ over the 16 lanes' pairs: a·b, a and b 32 bf16 each.
inline __m512 dot_pairs(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, std::bit_cast<__m512bh>(a), std::bit_cast<__m512bh>(b));
}

}  // namespace legato::bf16
#endif  // LEGATO_HAVE_BF16
