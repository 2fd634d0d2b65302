#pragma once
// All op families (each header: forward and backward side by side).
#include "legato/ops/broadcast.hpp"
#include "legato/ops/elementwise.hpp"
