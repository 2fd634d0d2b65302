#pragma once
// All op families (each header: forward and backward side by side).
#include "legato/ops/broadcast.hpp"
#include "legato/ops/elementwise.hpp"
#include "legato/ops/activations.hpp"
#include "legato/ops/shape.hpp"
#include "legato/ops/reduce.hpp"
#include "legato/ops/matmul.hpp"
#include "legato/ops/softmax.hpp"
#include "legato/ops/loss.hpp"
