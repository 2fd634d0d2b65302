#pragma once
// A small command-line parser for the example programs:
//
//   program SUBCOMMAND [--flag value | --switch]...
//
// Flags are declared with their default and help text; an unknown flag, a
// flag given twice, a missing value, a value of the wrong type or out of the
// type's range is a legato::Error naming the flag, which main()
// (examples/common/example_main.hpp) turns into one line on stderr and exit
// code 1.

#include <cerrno>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "legato/util/error.hpp"

namespace legato {

class CommandLine {
 public:
  // args excludes the program name and the subcommand.
  CommandLine(std::string context, std::vector<std::string> args) : context_(std::move(context)) {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& arg = args[i];
      check(arg.rfind("--", 0) == 0 && arg.size() > 2, context_, ": unexpected argument '", arg, "'");
      std::string name = arg.substr(2), value;
      if (const auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
        value = args[++i];
      } else {
        value = "\x01";  // a bare switch
      }
      // A repeated flag is a mistake (an edited command line), not an override.
      check(given_.count(name) == 0, context_, ": --", name, " is given twice");
      given_[name] = value;
    }
  }

  // Declarations: each returns the value given on the command line, or the default.
  std::string text(const std::string& name, const std::string& fallback, const std::string& help) {
    declare(name, fallback.empty() ? "" : fallback, help);
    const auto found = given_.find(name);
    if (found == given_.end()) return fallback;
    check(found->second != "\x01", context_, ": --", name, " needs a value");
    return found->second;
  }
  long integer(const std::string& name, long fallback, const std::string& help) {
    const std::string value = text(name, std::to_string(fallback), help);
    char* end = nullptr;
    errno = 0;
    const long parsed = std::strtol(value.c_str(), &end, 10);
    check(!value.empty() && end && *end == '\0', context_, ": --", name, " expects an integer, got '", value, "'");
    check(errno != ERANGE, context_, ": --", name, " = '", value, "' is out of range");
    return parsed;
  }
  double real(const std::string& name, double fallback, const std::string& help) {
    std::ostringstream shown;
    shown << fallback;
    const std::string value = text(name, shown.str(), help);
    char* end = nullptr;
    errno = 0;
    const double parsed = std::strtod(value.c_str(), &end);
    check(!value.empty() && end && *end == '\0', context_, ": --", name, " expects a number, got '", value, "'");
    // strtod also reads C's hexadecimal floats ("0x1p-2"); a flag means decimal.
    check(value.find_first_of("xX") == std::string::npos, context_, ": --", name, " expects a decimal number, got '",
          value, "'");
    check(errno != ERANGE, context_, ": --", name, " = '", value, "' is out of range");
    return parsed;
  }
  bool flag(const std::string& name, const std::string& help) {
    declare(name, "", help, true);
    const auto found = given_.find(name);
    if (found == given_.end()) return false;
    check(found->second == "\x01", context_, ": --", name, " takes no value");
    return true;
  }
  bool has(const std::string& name) const { return given_.count(name) != 0; }

  // Call after all declarations: rejects flags that were not declared.
  void finish() const {
    for (const auto& [name, value] : given_) {
      if (name == "help") continue;
      check(declared_.count(name) != 0, context_, ": unknown flag --", name, " (see --help)");
    }
  }
  bool wants_help() const { return given_.count("help") != 0; }

  std::string help() const {
    std::ostringstream out;
    for (const auto& line : help_lines_) out << line << '\n';
    return out.str();
  }

 private:
  void declare(const std::string& name, const std::string& fallback, const std::string& help, bool is_switch = false) {
    if (!declared_.insert({name, true}).second) return;
    std::string left = "  --" + name + (is_switch ? "" : " VALUE");
    if (left.size() < 26) left.resize(26, ' ');
    help_lines_.push_back(left + " " + help + (fallback.empty() || is_switch ? "" : " (default " + fallback + ")"));
  }

  std::string context_;
  std::map<std::string, std::string> given_;
  std::map<std::string, bool> declared_;
  std::vector<std::string> help_lines_;
};

}  // namespace legato
