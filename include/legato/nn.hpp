#pragma once
// Modules and layers (namespace legato::nn): Module, the PyTorch-compatible
// layers and their default initialisers.
#include "legato/nn/module.hpp"
#include "legato/nn/init.hpp"
#include "legato/nn/linear.hpp"
#include "legato/nn/embedding.hpp"
#include "legato/nn/dropout.hpp"
#include "legato/nn/activation.hpp"
#include "legato/nn/reshape.hpp"
#include "legato/nn/sequential.hpp"
#include "legato/nn/batchnorm.hpp"
#include "legato/nn/conv.hpp"
#include "legato/nn/lstm.hpp"
#include "legato/nn/replicas.hpp"
