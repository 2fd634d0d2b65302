#pragma once
// The seed's duration table T (spec §1.4, §2.3): the only durations the
// melody models know, in quarters. Index order matters: E-2SEQ stores the
// index (0.25 -> 0 … 4.0 -> 7).
//
//   duration_index(Rational(3, 4)) == 2;  duration_index(Rational(1, 3)) == -1

#include <array>

#include "legato/music/rational.hpp"

namespace legato::music {

inline const std::array<Rational, 8>& duration_table() {
  static const std::array<Rational, 8> table = {Rational(1, 4), Rational(1, 2), Rational(3, 4), Rational(1),
                                                Rational(3, 2), Rational(2),    Rational(3),    Rational(4)};
  return table;
}

// Position of `quarters` in T, or -1 when it is not in the table.
inline int duration_index(const Rational& quarters) {
  const auto& table = duration_table();
  for (int i = 0; i < int(table.size()); ++i)
    if (table[i] == quarters) return i;
  return -1;
}

inline bool in_duration_table(const Rational& quarters) { return duration_index(quarters) >= 0; }

}  // namespace legato::music
