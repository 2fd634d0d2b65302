#pragma once
// The --metrics-json file every example program can write, and the machine's
// load that goes into it: a timing means little without how busy the machine
// was (docs/results.md records it beside every number).

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "legato/util/file.hpp"

namespace legato::examples {

// The 1-minute load average; NAN where the system does not say (JSON null).
inline double load_average() {
  double load[1] = {NAN};
  return getloadavg(load, 1) == 1 ? load[0] : NAN;
}

// Writes the JSON object atomically, pretty-printed; an empty path means the
// flag was not given. Json: nlohmann::json or nlohmann::ordered_json.
template <class Json>
void write_metrics_json(const std::string& path, const Json& j) {
  if (path.empty()) return;
  write_file_atomically(path, j.dump(2) + "\n");
  std::fprintf(stderr, "metrics written to %s\n", path.c_str());
}

}  // namespace legato::examples
