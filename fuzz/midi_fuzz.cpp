// libFuzzer target: bytes -> the Standard MIDI File parser and the MIDI ->
// Song reader, then the song goes through the writers. Only legato::Error may
// leave the music code. Property checked: a parsed file, encoded again,
// parses to the same events.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "legato/music.hpp"

using namespace legato::music;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool same_events(const MidiFile& a, const MidiFile& b) {
  if (a.tracks.size() != b.tracks.size() || a.ticks_per_quarter != b.ticks_per_quarter) return false;
  for (std::size_t t = 0; t < a.tracks.size(); ++t) {
    const auto& x = a.tracks[t].events;
    const auto& y = b.tracks[t].events;
    // encode_midi adds an End of Track when a track lacks one.
    if (y.size() < x.size() || y.size() > x.size() + 1) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (x[i].tick != y[i].tick || x[i].status != y[i].status || x[i].meta_type != y[i].meta_type ||
          x[i].data != y[i].data)
        return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  MidiFile file;
  try {
    file = parse_midi(bytes, "fuzz.mid");
  } catch (const legato::Error&) {
    return 0;
  }
  try {
    // Format 0 files with several tracks are refused by the encoder; fix the format for the re-encode.
    MidiFile copy = file;
    if (copy.format == 0 && copy.tracks.size() != 1) copy.format = 1;
    require(same_events(file, parse_midi(encode_midi(copy), "encoded.mid")));
  } catch (const legato::Error&) {  // a delta too large for a variable-length number
  }
  try {
    const Song song = song_from_midi(file);
    const std::string text = kern_text(song);
    parse_kern(text, "written.krn");
    midi_bytes(song);
  } catch (const legato::Error&) {
  }
  return 0;
}
