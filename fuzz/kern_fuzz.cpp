// libFuzzer target: bytes -> the **kern reader, and whatever parses goes on
// through key finding, transposition, the encodings and both writers.
// The only exception allowed out of the music code is legato::Error; anything
// else (std::out_of_range, a crash, a sanitizer report) is a bug. Property
// checked on the way: a song the writer emits reads back to the same song.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "legato/music.hpp"

using namespace legato::music;

namespace {

void require(bool ok) {
  if (!ok) std::abort();  // libFuzzer reports the input
}

void exercise(const Song& song) {
  // Bound the work: E-TS of a 3%999999 note is millions of tokens.
  std::int64_t steps = 0;
  for (const Event& e : song.events) steps += timeseries_steps(e.duration);
  if (steps < 100000) {
    const auto tokens = encode_timeseries(song);
    require(tokens.size() == std::size_t(steps));
    encode_vae1(song);
    decode_timeseries(tokens);
  }
  find_key(song);
  try {
    transpose_to_c(song);
  } catch (const legato::Error&) {  // a note pushed outside 0..127
  }
  try {
    encode_twoseq(song);
  } catch (const legato::Error&) {  // pitch 99 and above
  }

  // Kern round trip: what we write, we read back identically.
  const std::string text = kern_text(song);
  Song back;
  try {
    back = parse_kern(text, "written.krn");
  } catch (const legato::Error&) {
    return;  // e.g. a rational duration with more digits than the reader accepts
  }
  require(back.events == song.events);
  require(back.barlines == song.barlines);
  require(back.meters == song.meters);
  require(back.key_signatures == song.key_signatures);
  require(back.keys == song.keys);
  require(back.references == song.references);

  // MIDI: write, parse, read back as a melody.
  const std::string bytes = midi_bytes(song);
  song_from_midi(parse_midi(bytes, "written.mid"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    exercise(parse_kern(text, "fuzz.krn"));
  } catch (const legato::Error&) {
    // Bad input is refused with a message: that is the contract.
  }
  return 0;
}
