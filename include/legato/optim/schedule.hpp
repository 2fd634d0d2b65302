#pragma once
// Learning-rate schedules. Each is a pure function of the base rate and the
// step (or epoch) number, so a resumed run needs only its step count:
//
//   optim::CosineLR schedule(/*total_steps=*/10000, /*min_lr=*/1e-5f, /*warmup_steps=*/500);
//   for (std::int64_t step = 0; step < 10000; ++step) {
//     opt.set_lr(schedule.lr(3e-4f, step));
//     ...
//   }

#include <cmath>
#include <cstdint>
#include <numbers>

#include "legato/util/error.hpp"

namespace legato::optim {

// torch.optim.lr_scheduler.StepLR: the rate is multiplied by gamma every
// step_size steps: lr = base * gamma^floor(step / step_size).
class StepLR {
 public:
  StepLR(std::int64_t step_size, float gamma) : step_size_(step_size), gamma_(gamma) {
    check(step_size > 0, "StepLR: step_size must be > 0, got ", step_size);
    check(gamma > 0.f, "StepLR: gamma must be > 0, got ", gamma);
  }
  float lr(float base_lr, std::int64_t step) const {
    check(step >= 0, "StepLR: negative step ", step);
    return static_cast<float>(base_lr * std::pow(double(gamma_), double(step / step_size_)));
  }

 private:
  std::int64_t step_size_;
  float gamma_;
};

// Cosine decay from base to min_lr over total_steps (torch's
// CosineAnnealingLR, closed form), after an optional linear warm-up:
//
//   step < W:          lr = base * (step + 1) / W
//   W <= step < T:     lr = min + (base - min) * (1 + cos(pi * (step - W) / (T - W))) / 2
//   step >= T:         lr = min
class CosineLR {
 public:
  CosineLR(std::int64_t total_steps, float min_lr = 0.f, std::int64_t warmup_steps = 0)
      : total_(total_steps), min_lr_(min_lr), warmup_(warmup_steps) {
    check(total_steps > 0, "CosineLR: total_steps must be > 0, got ", total_steps);
    check(min_lr >= 0.f, "CosineLR: min_lr must be >= 0, got ", min_lr);
    check(warmup_steps >= 0 && warmup_steps < total_steps, "CosineLR: warmup_steps must be in [0, total_steps), got ",
          warmup_steps, " with total_steps ", total_steps);
  }
  float lr(float base_lr, std::int64_t step) const {
    check(step >= 0, "CosineLR: negative step ", step);
    if (step < warmup_) return static_cast<float>(double(base_lr) * double(step + 1) / double(warmup_));
    if (step >= total_) return min_lr_;
    const double progress = double(step - warmup_) / double(total_ - warmup_);  // in [0, 1)
    return static_cast<float>(min_lr_ + (double(base_lr) - min_lr_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
  }

 private:
  std::int64_t total_;
  float min_lr_;
  std::int64_t warmup_;
};

}  // namespace legato::optim
