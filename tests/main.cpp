// doctest entry point. After the run it prints how many gradient checks ran,
// so the gradient coverage of the suite is visible in every CI log.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

#include "gradcheck.hpp"

int main(int argc, char** argv) {
  legato::set_num_threads(legato::init_threads_from_env());
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (!context.shouldExit()) {
    const auto& tally = legato::testing::gradcheck_tally();
    std::cout << "gradient checks: " << tally.calls << " functions, " << tally.elements
              << " input elements compared against central differences\n";
  }
  return result;
}
