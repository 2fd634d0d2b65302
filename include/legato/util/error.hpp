#pragma once
// Errors. Every failure a user can cause (a wrong shape, a bad file, a bad
// flag) becomes a legato::Error whose message says what and where. Programs
// catch it at the top, print one line and exit non-zero.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace legato {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

// fail("conv1d: expected ", 3, " dims") throws Error with the parts joined.
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw Error(detail::concat(std::forward<Parts>(parts)...));
}

// check(cond, parts...) throws when cond is false.
template <class... Parts>
void check(bool condition, Parts&&... parts) {
  if (!condition) fail(std::forward<Parts>(parts)...);
}

}  // namespace legato
