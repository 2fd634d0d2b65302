#pragma once
// Song -> Standard MIDI File.
//
//   write_midi_file("out.mid", song);                       // format 1, 480 ticks per quarter
//   MidiWriteOptions o; o.format = 0; o.program = 73; o.tempo_qpm = 90;
//   write_midi_file("flute.mid", song, o);
//
// Format 1 writes a conductor track (track name = title, tempo, time and
// key signatures) and a note track (track name, program change, notes);
// format 0 writes all of it in one track. Both end every track with End of
// Track. Meter and key changes inside the song become meta events at their
// onsets; irregular meters (*MX) write no time signature, *MFREI6/8 writes
// its nominal 6/8. A key signature's sharps/flats come from *k[...] (or from
// the designation when the signature is not standard), major/minor from the
// designation. Tied segments are merged into one note by default (what a
// listener expects); rests are silence. Onsets are rounded to ticks from the
// exact running position, so durations never drift.

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

struct MidiWriteOptions {
  int format = 1;               // 0 (one track) or 1 (conductor + notes)
  int ticks_per_quarter = 480;  // 480 divides every tuplet the corpus uses
  double tempo_qpm = 0;         // 0: the song's tempo, else 120 (the seed's music21 default)
  int channel = 0;              // 0..15
  int program = 0;              // General MIDI program 0..127 (0 piano); -1 writes no program change
  int velocity = 90;            // 1..127 (90 as the seed's files)
  bool merge_ties = true;       // one note per tied chain
  std::string track_name;       // empty: the song's title, else "legato melody"
};

namespace detail {

// Order of events that share a tick: meta, program, note off, note on.
inline int midi_order(const MidiEvent& e) {
  if (e.is_meta()) return 0;
  if (e.kind() == 0xC0) return 1;
  if (e.is_note_off()) return 2;
  return 3;
}

inline std::vector<std::uint8_t> text_bytes(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace detail

inline MidiFile song_to_midi(const Song& song, const MidiWriteOptions& options = {}) {
  check(options.format == 0 || options.format == 1, "write_midi: format ", options.format, " is not 0 or 1");
  check(options.ticks_per_quarter > 0 && options.ticks_per_quarter < 0x8000, "write_midi: ticks per quarter ",
        options.ticks_per_quarter, " is outside 1..32767");
  check(options.channel >= 0 && options.channel <= 15, "write_midi: channel ", options.channel, " is outside 0..15");
  check(options.program >= -1 && options.program <= 127, "write_midi: program ", options.program,
        " is outside 0..127 (or -1 for none)");
  check(options.velocity >= 1 && options.velocity <= 127, "write_midi: velocity ", options.velocity,
        " is outside 1..127");
  const double qpm = options.tempo_qpm > 0 ? options.tempo_qpm : song.tempo_qpm > 0 ? song.tempo_qpm : 120.0;
  const double usec = std::round(60e6 / qpm);
  check(std::isfinite(qpm) && usec >= 1 && usec <= 0xFFFFFF, "write_midi: tempo ", qpm, " qpm is out of range");

  // Onset of every event (exact), and its tick.
  const Rational tpq(options.ticks_per_quarter);
  std::vector<Rational> onset(song.events.size() + 1);
  for (std::size_t i = 0; i < song.events.size(); ++i) {
    check(song.events[i].duration >= 0, "write_midi: event ", i, " has a negative duration");
    onset[i + 1] = onset[i] + song.events[i].duration;
  }
  auto tick_at = [&](std::size_t i) {  // nearest tick, halves up
    const Rational t = onset[std::min(i, song.events.size())] * tpq;
    return (t + Rational(1, 2)).floor();
  };

  std::vector<MidiEvent> meta, notes;
  const std::string name = !options.track_name.empty() ? options.track_name
                           : !song.title.empty()       ? song.title
                                                       : "legato melody";
  meta.push_back(MidiEvent::meta(0, kMetaTrackName, detail::text_bytes(name)));
  const auto u = std::uint32_t(usec);
  meta.push_back(MidiEvent::meta(0, kMetaTempo, {std::uint8_t(u >> 16), std::uint8_t(u >> 8), std::uint8_t(u)}));
  for (const auto& [at, m] : song.meters) {
    const int den = m.denominator;
    if (m.numerator <= 0 || m.numerator > 255 || den <= 0 || (den & (den - 1)) != 0) continue;  // not expressible
    int log2 = 0;
    while ((1 << log2) < den) ++log2;
    meta.push_back(MidiEvent::meta(tick_at(at), kMetaTimeSignature, {std::uint8_t(m.numerator), std::uint8_t(log2), 24, 8}));
  }
  // Key signatures: at each signature, and at designations that have none.
  std::vector<const Placed<KeyDesignation>*> designations;  // sorted by place, for a binary search
  for (const auto& k : song.keys) designations.push_back(&k);
  std::stable_sort(designations.begin(), designations.end(), [](auto* a, auto* b) { return a->at < b->at; });
  auto designation_at = [&](std::size_t at) -> const KeyDesignation* {  // the last one placed at or before `at`
    const auto it = std::upper_bound(designations.begin(), designations.end(), at,
                                     [](std::size_t x, const Placed<KeyDesignation>* k) { return x < k->at; });
    return it == designations.begin() ? nullptr : &(*(it - 1))->value;
  };
  auto key_event = [&](std::size_t at, int fifths, bool minor) {
    fifths = std::max(-7, std::min(7, fifths));
    meta.push_back(MidiEvent::meta(tick_at(at), kMetaKeySignature, {std::uint8_t(std::int8_t(fifths)), std::uint8_t(minor)}));
  };
  for (const auto& [at, sig] : song.key_signatures) {
    const KeyDesignation* d = designation_at(at);
    key_event(at, sig.standard || !d ? sig.fifths : key_fifths(d->key), d && d->key.mode == Mode::minor);
  }
  if (song.key_signatures.empty())
    for (const auto& [at, d] : song.keys) key_event(at, key_fifths(d.key), d.key.mode == Mode::minor);

  if (options.program >= 0)
    notes.push_back(MidiEvent::channel_message(0, 0xC0, options.channel, {std::uint8_t(options.program)}));
  for (std::size_t i = 0; i < song.events.size(); ++i) {
    const Event& e = song.events[i];
    if (e.is_rest()) continue;
    check(e.pitch >= 0 && e.pitch <= 127, "write_midi: pitch ", e.pitch, " of event ", i, " is outside 0..127");
    std::size_t last = i;  // the tied chain ends at `last`
    if (options.merge_ties)
      while (song.events[last].tie_out && last + 1 < song.events.size() && song.events[last + 1].tie_in &&
             song.events[last + 1].pitch == e.pitch)
        ++last;
    const std::int64_t on = tick_at(i), off = tick_at(last + 1);
    if (off > on) {  // grace notes (duration 0) have no time to sound
      notes.push_back(MidiEvent::channel_message(on, 0x90, options.channel,
                                                 {std::uint8_t(e.pitch), std::uint8_t(options.velocity)}));
      notes.push_back(MidiEvent::channel_message(off, 0x80, options.channel, {std::uint8_t(e.pitch), 0}));
    }
    i = last;
  }
  auto sorted = [](std::vector<MidiEvent> events) {
    std::stable_sort(events.begin(), events.end(), [](const MidiEvent& a, const MidiEvent& b) {
      return a.tick != b.tick ? a.tick < b.tick : detail::midi_order(a) < detail::midi_order(b);
    });
    return events;
  };
  const std::int64_t end_tick = tick_at(song.events.size());

  MidiFile file;
  file.format = options.format;
  file.ticks_per_quarter = options.ticks_per_quarter;
  if (options.format == 0) {
    std::vector<MidiEvent> all = meta;
    all.insert(all.end(), notes.begin(), notes.end());
    MidiTrack track{sorted(std::move(all))};
    track.events.push_back(MidiEvent::meta(std::max(end_tick, track.events.back().tick), kMetaEndOfTrack, {}));
    file.tracks.push_back(std::move(track));
  } else {
    MidiTrack conductor{sorted(std::move(meta))};
    conductor.events.push_back(MidiEvent::meta(std::max(end_tick, conductor.events.back().tick), kMetaEndOfTrack, {}));
    std::vector<MidiEvent> melody{MidiEvent::meta(0, kMetaTrackName, detail::text_bytes(name))};
    melody.insert(melody.end(), notes.begin(), notes.end());
    MidiTrack note_track{sorted(std::move(melody))};
    note_track.events.push_back(MidiEvent::meta(std::max(end_tick, note_track.events.back().tick), kMetaEndOfTrack, {}));
    file.tracks.push_back(std::move(conductor));
    file.tracks.push_back(std::move(note_track));
  }
  return file;
}

inline std::string midi_bytes(const Song& song, const MidiWriteOptions& options = {}) {
  return encode_midi(song_to_midi(song, options));
}

// Writes atomically (temporary file, then rename).
inline void write_midi_file(const std::filesystem::path& path, const Song& song, const MidiWriteOptions& options = {}) {
  write_file_atomically(path, midi_bytes(song, options));
}

}  // namespace legato::music
