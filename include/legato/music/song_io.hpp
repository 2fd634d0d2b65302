#pragma once
// Songs and melodies to and from files, the format chosen by extension:
// .krn is **kern, .mid / .midi is a Standard MIDI File. One call each:
//
//   write_melody_midi("sample.mid", melody);          // Melody -> .mid (4/4, 120 qpm, C major)
//   write_melody_kern("sample.krn", melody);          // Melody -> .krn, with bars and ties
//   write_melody("sample.mid", melody, info);         // by extension
//   Song s = read_song("primer.mid");                 // .krn or .mid
//   write_song("copy.krn", s);                        // by extension
//
// Every write is atomic (temporary file, then rename).

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>

#include "legato/music/from_melody.hpp"
#include "legato/music/kern_reader.hpp"
#include "legato/music/kern_writer.hpp"
#include "legato/music/midi_reader.hpp"
#include "legato/music/midi_writer.hpp"
#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

enum class SongFormat { kern, midi };

// The format of a path from its extension (case-insensitive), or an error that lists the known ones.
inline SongFormat song_format_of(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ext == ".krn") return SongFormat::kern;
  if (ext == ".mid" || ext == ".midi") return SongFormat::midi;
  fail(path.string(), ": unknown extension '", ext, "' (expected .krn, .mid or .midi)");
}

inline Song read_song(const std::filesystem::path& path) {
  return song_format_of(path) == SongFormat::kern ? read_kern_file(path) : read_midi_song(path);
}

inline void write_song(const std::filesystem::path& path, const Song& song, const MidiWriteOptions& midi = {}) {
  if (song_format_of(path) == SongFormat::kern) write_kern_file(path, song);
  else write_midi_file(path, song, midi);
}

inline void write_melody_midi(const std::filesystem::path& path, const Melody& melody, const MelodyInfo& info = {},
                              const MidiWriteOptions& midi = {}) {
  write_midi_file(path, song_from_melody(melody, info), midi);
}

inline void write_melody_kern(const std::filesystem::path& path, const Melody& melody, const MelodyInfo& info = {}) {
  write_kern_file(path, song_from_melody(melody, info));
}

inline void write_melody(const std::filesystem::path& path, const Melody& melody, const MelodyInfo& info = {},
                         const MidiWriteOptions& midi = {}) {
  write_song(path, song_from_melody(melody, info), midi);
}

}  // namespace legato::music
