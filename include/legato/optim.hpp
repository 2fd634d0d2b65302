#pragma once
// Optimisers, gradient clipping and learning-rate schedules.
#include "legato/optim/adam.hpp"
#include "legato/optim/clip.hpp"
#include "legato/optim/optimizer.hpp"
#include "legato/optim/schedule.hpp"
#include "legato/optim/sgd.hpp"
