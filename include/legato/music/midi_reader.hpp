#pragma once
// Standard MIDI File -> Song: reads melodies back (round trips, a MIDI
// primer for generation).
//
//   Song s = read_midi_song("primer.mid");            // every track and channel
//   MidiReadOptions o; o.channel = 0; Song lead = read_midi_song("x.mid", o);
//
// The notes of the chosen tracks / channels are read as ONE monophonic line:
// a note-on while another note sounds ends that note (the newer wins); a gap
// between notes becomes a rest, also before the first note and after the
// last one (up to the End of Track). Durations are
// exact: ticks / ticks_per_quarter. Meta events become song data: the first
// tempo (tempo_qpm), time signatures (meters), key signatures (a *k[...] and
// a designation: sf, mi -> major or minor tonic), the first track name (title).

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "legato/util/file.hpp"
#include "legato/music/midi_file.hpp"
#include "legato/music/song.hpp"
#include "legato/util/error.hpp"

namespace legato::music {

struct MidiReadOptions {
  int track = -1;    // read only this track (0-based); -1: all
  int channel = -1;  // read only this channel (0..15); -1: all
};

inline Song song_from_midi(const MidiFile& file, const MidiReadOptions& options = {}) {
  check(options.track < int(file.tracks.size()), "read_midi: track ", options.track, " requested, the file has ",
        file.tracks.size());
  // All events, by tick; within a tick, track order then file order.
  struct Timed {
    const MidiEvent* event;
    int track;
  };
  std::vector<Timed> all;
  for (int t = 0; t < int(file.tracks.size()); ++t)
    for (const MidiEvent& e : file.tracks[std::size_t(t)].events) all.push_back({&e, t});
  std::stable_sort(all.begin(), all.end(), [](const Timed& a, const Timed& b) {
    if (a.event->tick != b.event->tick) return a.event->tick < b.event->tick;
    return a.event->is_note_off() && !b.event->is_note_off();  // ends before starts at the same tick
  });

  struct Note {
    int pitch;
    std::int64_t start, end;
  };
  std::vector<Note> notes;
  int sounding = -1;  // index in notes of the note that sounds, or -1
  Song song;
  std::vector<std::pair<std::int64_t, Meter>> meters;
  std::vector<std::pair<std::int64_t, KeySignature>> signatures;
  std::vector<std::pair<std::int64_t, KeyDesignation>> designations;
  for (const auto& [event, track] : all) {
    const MidiEvent& e = *event;
    if (e.is_meta()) {
      if (e.meta_type == kMetaTempo && e.data.size() == 3 && song.tempo_qpm == 0) {
        const double usec = (e.data[0] << 16) | (e.data[1] << 8) | e.data[2];
        if (usec > 0) song.tempo_qpm = std::round(60e6 / usec * 1000) / 1000;
      } else if (e.meta_type == kMetaTrackName && song.title.empty()) {
        song.title.assign(e.data.begin(), e.data.end());
      } else if (e.meta_type == kMetaTimeSignature && e.data.size() >= 2 && e.data[0] > 0 && e.data[1] <= 10) {
        meters.emplace_back(e.tick, Meter::regular_meter(e.data[0], 1 << e.data[1]));
      } else if (e.meta_type == kMetaKeySignature && e.data.size() == 2) {
        const int fifths = std::int8_t(e.data[0]);
        if (fifths >= -7 && fifths <= 7 && e.data[1] <= 1) {
          const bool minor = e.data[1] == 1;
          const int major_tonic = ((7 * fifths) % 12 + 12) % 12;
          const Key key{minor ? (major_tonic + 9) % 12 : major_tonic, minor ? Mode::minor : Mode::major};
          signatures.emplace_back(e.tick, KeySignature::from_fifths(fifths));
          designations.emplace_back(e.tick, KeyDesignation{key, legato::detail::concat("*", key_kern_name(key), ":")});
        }
      }
      continue;
    }
    if (options.track >= 0 && track != options.track) continue;
    if (options.channel >= 0 && e.channel() != options.channel) continue;
    if (e.is_note_on()) {
      if (sounding >= 0) notes[std::size_t(sounding)].end = e.tick;
      notes.push_back({e.note(), e.tick, -1});
      sounding = int(notes.size()) - 1;
    } else if (e.is_note_off() && sounding >= 0 && notes[std::size_t(sounding)].pitch == e.note()) {
      notes[std::size_t(sounding)].end = e.tick;
      sounding = -1;
    }
  }
  if (sounding >= 0) {  // never released: end at the last event of the file
    notes[std::size_t(sounding)].end = all.empty() ? notes[std::size_t(sounding)].start : all.back().event->tick;
  }

  const Rational tpq(file.ticks_per_quarter);
  std::vector<std::int64_t> starts;  // tick of each event, to place meta items
  std::int64_t now = 0;
  for (const Note& n : notes) {
    if (n.end <= n.start) continue;  // cut to nothing by a note at the same tick
    if (n.start > now) {
      song.events.push_back({kRest, Rational(n.start - now) / tpq});
      starts.push_back(now);
    }
    song.events.push_back({n.pitch, Rational(n.end - n.start) / tpq});
    starts.push_back(n.start);
    now = n.end;
  }
  // Silence after the last note, up to the last End of Track, is a rest.
  std::int64_t end_of_track = 0;
  for (const MidiTrack& t : file.tracks)
    if (!t.events.empty()) end_of_track = std::max(end_of_track, t.events.back().tick);
  if (!notes.empty() && end_of_track > now) {
    song.events.push_back({kRest, Rational(end_of_track - now) / tpq});
    starts.push_back(now);
  }
  auto place = [&](std::int64_t tick) {  // index of the first event starting at or after tick
    return std::size_t(std::lower_bound(starts.begin(), starts.end(), tick) - starts.begin());
  };
  for (const auto& [tick, m] : meters) song.meters.push_back({place(tick), m});
  for (const auto& [tick, k] : signatures) song.key_signatures.push_back({place(tick), k});
  for (const auto& [tick, k] : designations) song.keys.push_back({place(tick), k});
  return song;
}

inline Song read_midi_song(const std::filesystem::path& path, const MidiReadOptions& options = {}) {
  return song_from_midi(parse_midi(read_file(path), path.string()), options);
}

}  // namespace legato::music
