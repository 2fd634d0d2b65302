#pragma once
// Where each 16th step of a melody falls in its bar: the metric position
// that a model can read beside the E-TS token (timeseries.hpp).
//
//   std::vector<StepMeter> m = step_meters(song);   // one per step, plus the step after the end
//   m[t].position    // 16ths since the bar began (an upbeat counts from its bar's start)
//   m[t].bar_steps   // 16ths per bar of the meter in effect (3/4 -> 12), 0 when unknown
//   m[t].beat_steps  // 16ths per beat (3/4 -> 4, 6/8 -> 6: a dotted quarter), 0 when unknown
//
//   MetricClock clock(/*bar_steps=*/12, /*pickup_steps=*/4, /*beat_steps=*/4);  // in 3/4, one-beat upbeat
//   clock.at(i);                                                                // step i of the melody
//
// Positions come from the barlines of the song, so irregular bars and meter
// changes are followed as written. Before the first barline, a bar shorter
// than the meter's is an upbeat: a 4/4 song that starts with one quarter
// before its first barline starts at position 12 (a barline before the first
// note changes nothing, as for pickup_of in melody_output.hpp). A song
// without barlines counts from its start, modulo the bar of its meter when it
// has one. A position stays -1 where none of this applies (no barline and no
// meter).

#include <cstdint>
#include <vector>

#include "legato/music/song.hpp"
#include "legato/music/timeseries.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

struct StepMeter {
  int position = -1;   // 16ths since the bar began, or -1 when unknown
  int bar_steps = 0;   // 16ths per bar of the meter in effect (its nominal bar for *MFREI6/8), 0 when unknown
  int beat_steps = 0;  // 16ths per beat of that meter (beat_steps_of), 0 when unknown
  friend bool operator==(const StepMeter&, const StepMeter&) = default;
};

// 16ths per beat. A compound meter (6/8, 9/8, 12/8, 6/4: the numerator a
// multiple of 3 above 3) beats in dotted notes, three of its unit; any other
// in its unit: 3/4 and 6/8 both have bars of 12 16ths, beats of 4 and 6.
// 0 when the meter has no nominal value or a beat is not a whole 16th.
inline int beat_steps_of(const Meter& meter) {
  if (meter.numerator <= 0 || meter.denominator <= 0 || 16 % meter.denominator != 0) return 0;
  const int unit = 16 / meter.denominator;
  return meter.numerator > 3 && meter.numerator % 3 == 0 ? 3 * unit : unit;
}

// One entry per step of encode_timeseries(song), and one more for the step
// just after the song (where its end is predicted).
inline std::vector<StepMeter> step_meters(const Song& song) {
  const std::size_t events = song.events.size();
  std::vector<std::int64_t> event_step(events + 1, 0);  // first step of each event; the last entry is the length
  for (std::size_t i = 0; i < events; ++i) event_step[i + 1] = event_step[i] + timeseries_steps(song.events[i].duration);
  const std::int64_t length = event_step[events];
  auto step_of = [&](std::size_t at) { return event_step[at < events ? at : events]; };

  std::vector<std::int64_t> bar_starts;  // steps after the first where a barline stands, ascending
  for (const Barline& b : song.barlines) {
    const std::int64_t s = step_of(b.at);
    if (s > 0 && (bar_starts.empty() || s > bar_starts.back())) bar_starts.push_back(s);
  }
  std::vector<StepMeter> out(static_cast<std::size_t>(length + 1));
  std::size_t next_meter = 0, next_bar = 0;
  int bar_steps = 0, beat_steps = 0;
  std::int64_t bar_start = -1;  // step of the last barline passed, -1 before the first
  for (std::int64_t t = 0; t <= length; ++t) {
    while (next_meter < song.meters.size() && step_of(song.meters[next_meter].at) <= t) {
      const Meter& meter = song.meters[next_meter++].value;
      bar_steps = static_cast<int>(timeseries_steps(meter.bar_length()));
      beat_steps = bar_steps > 0 ? beat_steps_of(meter) : 0;
    }
    while (next_bar < bar_starts.size() && bar_starts[next_bar] <= t) bar_start = bar_starts[next_bar++];
    StepMeter& m = out[static_cast<std::size_t>(t)];
    m.bar_steps = bar_steps;
    m.beat_steps = beat_steps;
    if (bar_start >= 0) {
      m.position = static_cast<int>(t - bar_start);
    } else if (!bar_starts.empty() && bar_steps > 0 && bar_starts.front() < bar_steps) {
      m.position = static_cast<int>(bar_steps - bar_starts.front() + t);  // an upbeat
    } else if (!bar_starts.empty()) {
      m.position = static_cast<int>(t);  // a first bar as long as a bar or longer
    } else if (bar_steps > 0) {
      m.position = static_cast<int>(t % bar_steps);  // no barlines: count bars from the start
    }
  }
  return out;
}

// Metric positions of a melody generated in a regular meter of `bar_steps`
// 16ths and beats of `beat_steps` (0: unknown): step 0 comes `pickup_steps`
// before a barline (0: on one).
class MetricClock {
 public:
  MetricClock(int bar_steps, int pickup_steps, int beat_steps = 0) : bar_steps_(bar_steps), beat_steps_(beat_steps) {
    check(bar_steps >= 1, "MetricClock: a bar of ", bar_steps, " steps is not a bar");
    check(pickup_steps >= 0 && pickup_steps < bar_steps, "MetricClock: an upbeat of ", pickup_steps,
          " steps must be shorter than the bar of ", bar_steps);
    first_ = pickup_steps == 0 ? 0 : bar_steps - pickup_steps;
  }
  // The clock on which step `index` is `step` (e.g. a primer's last known
  // step, from step_meters), in bars of `bar_steps` and beats of `beat_steps`.
  static MetricClock through(const StepMeter& step, std::int64_t index, int bar_steps, int beat_steps) {
    check(step.position >= 0, "MetricClock::through: step ", index, " has no known position");
    MetricClock clock(bar_steps, 0, beat_steps);
    clock.first_ = static_cast<int>(((step.position - index) % bar_steps + bar_steps) % bar_steps);
    return clock;
  }
  StepMeter at(std::int64_t i) const {
    return {static_cast<int>((first_ + i) % bar_steps_), bar_steps_, beat_steps_};
  }

 private:
  int bar_steps_ = 0;
  int beat_steps_ = 0;
  int first_ = 0;  // position of step 0
};

}  // namespace legato::music
