#pragma once
// Rational: an exact fraction, used for every duration and onset in music/.
// Durations are measured in quarter notes ("quarterLength", ql): a quarter is
// 1, an eighth 1/2, a triplet eighth 1/3, a breve 8.
//
// Why not double: kern spells tuplets (12 = 1/3 ql, 24 = 1/6 ql) and the
// duration filter asks "is this exactly 0.75?". Fractions answer exactly and
// sums of triplets land exactly on beats. Arithmetic is checked: a result
// that does not fit in 64 bits throws legato::Error instead of wrapping, so a
// hostile file (recips 7, 11, 13, ... summed) fails cleanly.
//
//   Rational q(3, 4);              // 3/4 ql, a dotted eighth
//   q + Rational(1, 4) == 1        // true
//   q.to_string() == "3/4"; q.to_double() == 0.75

#include <cmath>
#include <compare>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <string>

#include "legato/util/error.hpp"

namespace legato::music {

class Rational {
 public:
  constexpr Rational() = default;
  // Implicit from an integer so that `duration == 1` and `Rational x = 2` read naturally.
  constexpr Rational(std::int64_t whole) : num_(whole) {}  // NOLINT(google-explicit-constructor)
  Rational(std::int64_t num, std::int64_t den) { assign(num, den); }

  std::int64_t num() const { return num_; }
  std::int64_t den() const { return den_; }
  double to_double() const { return double(num_) / double(den_); }
  bool is_zero() const { return num_ == 0; }
  bool is_integer() const { return den_ == 1; }

  // Largest integer <= this (floor, also for negatives).
  std::int64_t floor() const {
    std::int64_t q = num_ / den_;
    if (num_ % den_ != 0 && num_ < 0) --q;
    return q;
  }

  // "3/4", "2", "-1/3".
  std::string to_string() const {
    return den_ == 1 ? std::to_string(num_) : std::to_string(num_) + "/" + std::to_string(den_);
  }

  // The closest fraction to x with a denominator <= max_den (continued
  // fractions). Used to bring model outputs (0.25 * steps as double) back to
  // exact values; 0.1 + 0.2 becomes 3/10, 0.3333333 becomes 1/3.
  static Rational approximate(double x, std::int64_t max_den = 960) {
    check(x == x && x > -1e12 && x < 1e12, "Rational::approximate: value ", x, " is not a finite duration");
    check(max_den >= 1, "Rational::approximate: max_den must be >= 1");
    const bool negative = x < 0;
    double rest = negative ? -x : x;
    // Convergents h/k of the continued fraction of |x|.
    std::int64_t h0 = 0, h1 = 1, k0 = 1, k1 = 0;
    for (int i = 0; i < 64; ++i) {
      const double a_real = std::floor(rest);
      const auto a = std::int64_t(a_real);
      const std::int64_t h2 = a * h1 + h0, k2 = a * k1 + k0;
      if (k2 > max_den) break;
      h0 = h1, h1 = h2, k0 = k1, k1 = k2;
      const double frac = rest - a_real;
      if (frac < 1e-12) break;
      rest = 1.0 / frac;
    }
    if (k1 == 0) return Rational(negative ? -h1 : h1);
    return Rational(negative ? -h1 : h1, k1);
  }

  friend Rational operator+(const Rational& a, const Rational& b) {
    return from_wide(wide(a.num_) * b.den_ + wide(b.num_) * a.den_, wide(a.den_) * b.den_);
  }
  friend Rational operator-(const Rational& a, const Rational& b) {
    return from_wide(wide(a.num_) * b.den_ - wide(b.num_) * a.den_, wide(a.den_) * b.den_);
  }
  friend Rational operator*(const Rational& a, const Rational& b) {
    return from_wide(wide(a.num_) * b.num_, wide(a.den_) * b.den_);
  }
  friend Rational operator/(const Rational& a, const Rational& b) {
    check(b.num_ != 0, "Rational: division by zero");
    return from_wide(wide(a.num_) * b.den_, wide(a.den_) * b.num_);
  }
  Rational operator-() const { return from_wide(-wide(num_), den_); }
  Rational& operator+=(const Rational& o) { return *this = *this + o; }
  Rational& operator-=(const Rational& o) { return *this = *this - o; }

  friend bool operator==(const Rational& a, const Rational& b) { return a.num_ == b.num_ && a.den_ == b.den_; }
  friend std::strong_ordering operator<=>(const Rational& a, const Rational& b) {
    return wide(a.num_) * b.den_ <=> wide(b.num_) * a.den_;
  }

 private:
  using wide = __int128;

  void assign(std::int64_t num, std::int64_t den) {
    check(den != 0, "Rational: zero denominator");
    *this = from_wide(num, den);
  }

  // Reduces n/d and checks that it fits in 64 bits.
  static Rational from_wide(wide n, wide d) {
    check(d != 0, "Rational: zero denominator");
    if (d < 0) n = -n, d = -d;
    wide a = n < 0 ? -n : n, b = d;
    while (b != 0) {
      const wide t = a % b;
      a = b, b = t;
    }
    if (a > 1) n /= a, d /= a;
    constexpr wide lo = INT64_MIN + 1, hi = INT64_MAX;
    check(n >= lo && n <= hi && d <= hi, "Rational: duration arithmetic overflows 64 bits");
    Rational r;
    r.num_ = std::int64_t(n);
    r.den_ = std::int64_t(d);
    return r;
  }

  std::int64_t num_ = 0;
  std::int64_t den_ = 1;
};

}  // namespace legato::music
