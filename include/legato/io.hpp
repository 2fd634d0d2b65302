#pragma once
// Checkpoints (safetensors).
#include "legato/io/checkpoint.hpp"
#include "legato/io/safetensors.hpp"
