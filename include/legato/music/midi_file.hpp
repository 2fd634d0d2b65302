#pragma once
// Standard MIDI File (SMF) bytes <-> a plain event list. No musical meaning
// here: midi_writer.hpp turns a Song into a MidiFile, midi_reader.hpp a
// MidiFile into a Song.
//
//   MidiFile f = parse_midi(read_file("x.mid"), "x.mid");  // throws legato::Error on bad bytes
//   for (const MidiTrack& t : f.tracks) for (const MidiEvent& e : t.events) ...
//   std::string bytes = encode_midi(f);                           // deltas, End of Track added
//
// Event times are absolute ticks. The parser accepts formats 0, 1 and 2,
// running status, sysex and unknown chunks; it refuses SMPTE time division,
// truncated chunks, over-long variable-length numbers, data bytes >= 0x80 and
// system messages that cannot appear in a file. Every refusal is an Error
// naming the source, the byte offset and what was wrong.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "legato/util/error.hpp"

namespace legato::music {

// Meta event types used by the writer and the reader.
inline constexpr std::uint8_t kMetaTrackName = 0x03;
inline constexpr std::uint8_t kMetaEndOfTrack = 0x2F;
inline constexpr std::uint8_t kMetaTempo = 0x51;
inline constexpr std::uint8_t kMetaTimeSignature = 0x58;
inline constexpr std::uint8_t kMetaKeySignature = 0x59;

struct MidiEvent {
  std::int64_t tick = 0;           // absolute time in ticks
  std::uint8_t status = 0;         // 0x80..0xEF channel message, 0xFF meta, 0xF0 / 0xF7 sysex
  std::uint8_t meta_type = 0;      // for status 0xFF
  std::vector<std::uint8_t> data;  // 1-2 data bytes of a channel message, or the meta / sysex payload

  int kind() const { return status & 0xF0; }  // 0x90 note on, 0x80 note off, 0xC0 program, ...
  int channel() const { return status & 0x0F; }
  bool is_meta() const { return status == 0xFF; }
  bool is_note_on() const { return kind() == 0x90 && data.size() == 2 && data[1] > 0; }
  // Note on with velocity 0 is a note off (the common running-status idiom).
  bool is_note_off() const { return (kind() == 0x80 || (kind() == 0x90 && data.size() == 2 && data[1] == 0)); }
  int note() const { return data.empty() ? -1 : data[0]; }

  static MidiEvent channel_message(std::int64_t tick, int kind, int channel, std::vector<std::uint8_t> bytes) {
    return {tick, std::uint8_t(kind | (channel & 0x0F)), 0, std::move(bytes)};
  }
  static MidiEvent meta(std::int64_t tick, std::uint8_t type, std::vector<std::uint8_t> payload) {
    return {tick, 0xFF, type, std::move(payload)};
  }
};

struct MidiTrack {
  std::vector<MidiEvent> events;  // in time order
};

struct MidiFile {
  int format = 1;
  int ticks_per_quarter = 480;
  std::vector<MidiTrack> tracks;
};

namespace detail {

class MidiParser {
 public:
  MidiParser(std::string_view bytes, std::string source) : bytes_(bytes), source_(std::move(source)) {}

  MidiFile parse() {
    MidiFile file;
    need(14, "header chunk");
    expect_tag("MThd");
    const std::uint32_t header_length = read_u32();
    if (header_length < 6) bad("header chunk shorter than 6 bytes");
    const std::size_t header_end = pos_ + header_length;
    file.format = read_u16();
    const int declared_tracks = read_u16();
    const int division = read_u16();
    if (file.format > 2) bad("unknown format " + std::to_string(file.format));
    if (division & 0x8000) bad("SMPTE time division is not supported (only ticks per quarter)");
    if (division == 0) bad("zero ticks per quarter");
    file.ticks_per_quarter = division;
    if (header_end > bytes_.size()) bad("truncated header chunk");
    pos_ = header_end;

    while (pos_ < bytes_.size() && int(file.tracks.size()) < declared_tracks) {
      need(8, "chunk header");
      const std::string_view tag = bytes_.substr(pos_, 4);
      pos_ += 4;
      const std::uint32_t length = read_u32();
      if (length > bytes_.size() - pos_) bad("chunk of " + std::to_string(length) + " bytes runs past the end of the file");
      const std::size_t end = pos_ + length;
      if (tag == "MTrk") file.tracks.push_back(parse_track(end));
      pos_ = end;  // unknown chunk types are skipped
    }
    if (int(file.tracks.size()) != declared_tracks)
      bad("the header declares " + std::to_string(declared_tracks) + " tracks, the file holds " +
          std::to_string(file.tracks.size()));
    return file;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(source_, ": MIDI byte ", pos_, ": ", what);
  }
  void need(std::size_t n, const char* what) const {
    if (bytes_.size() - pos_ < n) bad(std::string("truncated ") + what);
  }
  void expect_tag(std::string_view tag) {
    if (bytes_.substr(pos_, 4) != tag) bad("expected chunk '" + std::string(tag) + "' (not a Standard MIDI File?)");
    pos_ += 4;
  }
  std::uint8_t byte_at(std::size_t end) {
    if (pos_ >= end) bad("track ends in the middle of an event");
    return std::uint8_t(bytes_[pos_++]);
  }
  std::uint32_t read_u32() {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | std::uint8_t(bytes_[pos_++]);
    return v;
  }
  int read_u16() {
    const int v = (std::uint8_t(bytes_[pos_]) << 8) | std::uint8_t(bytes_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  // Variable-length quantity: 7 bits per byte, high bit = more; at most 4 bytes.
  std::uint32_t read_vlq(std::size_t end) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const std::uint8_t b = byte_at(end);
      v = (v << 7) | (b & 0x7F);
      if (!(b & 0x80)) return v;
    }
    bad("variable-length number longer than 4 bytes");
  }

  MidiTrack parse_track(std::size_t end) {
    MidiTrack track;
    std::int64_t tick = 0;
    std::uint8_t running = 0;
    while (pos_ < end) {
      tick += read_vlq(end);
      MidiEvent e;
      e.tick = tick;
      std::uint8_t status = byte_at(end);
      if (status < 0x80) {  // running status: this byte is data
        if (running == 0) bad("data byte without a status (running status unset)");
        status = running;
        --pos_;
      }
      e.status = status;
      if (status == 0xFF) {
        e.meta_type = byte_at(end);
        if (e.meta_type >= 0x80) bad("meta event type >= 0x80");
        read_payload(e, end);
        track.events.push_back(std::move(e));
        if (track.events.back().meta_type == kMetaEndOfTrack) break;
        continue;
      }
      if (status == 0xF0 || status == 0xF7) {
        read_payload(e, end);
        running = 0;
        track.events.push_back(std::move(e));
        continue;
      }
      if (status >= 0xF0) bad("system message 0x" + hex(status) + " cannot appear in a file");
      running = status;
      const int count = (e.kind() == 0xC0 || e.kind() == 0xD0) ? 1 : 2;
      for (int i = 0; i < count; ++i) {
        const std::uint8_t d = byte_at(end);
        if (d >= 0x80) bad("data byte 0x" + hex(d) + " >= 0x80 in a channel message");
        e.data.push_back(d);
      }
      track.events.push_back(std::move(e));
    }
    return track;
  }

  void read_payload(MidiEvent& e, std::size_t end) {
    const std::uint32_t length = read_vlq(end);
    if (length > end - pos_) bad("event payload of " + std::to_string(length) + " bytes runs past the track end");
    e.data.assign(bytes_.begin() + std::ptrdiff_t(pos_), bytes_.begin() + std::ptrdiff_t(pos_ + length));
    pos_ += length;
  }

  static std::string hex(std::uint8_t b) {
    const char* digits = "0123456789ABCDEF";
    return {digits[b >> 4], digits[b & 15]};
  }

  std::string_view bytes_;
  std::string source_;
  std::size_t pos_ = 0;
};

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += char((v >> shift) & 0xFF);
}
inline void put_u16(std::string& out, int v) {
  out += char((v >> 8) & 0xFF);
  out += char(v & 0xFF);
}
inline void put_vlq(std::string& out, std::uint32_t v) {
  check(v <= 0x0FFFFFFF, "encode_midi: value ", v, " does not fit a variable-length number");
  char buf[4];
  int n = 0;
  buf[n++] = char(v & 0x7F);
  while (v >>= 7) buf[n++] = char((v & 0x7F) | 0x80);
  while (n) out += buf[--n];
}

}  // namespace detail

// Bytes -> MidiFile. `source` names the input in messages.
inline MidiFile parse_midi(std::string_view bytes, const std::string& source = "<memory>") {
  return detail::MidiParser(bytes, source).parse();
}

// MidiFile -> bytes. Events must be in time order within each track; every
// channel message is written with its status byte (no running status), and
// an End of Track is added when the track lacks one.
inline std::string encode_midi(const MidiFile& file) {
  check(file.format >= 0 && file.format <= 2, "encode_midi: format ", file.format, " is not 0, 1 or 2");
  check(file.format != 0 || file.tracks.size() == 1, "encode_midi: format 0 needs exactly one track, got ",
        file.tracks.size());
  check(file.ticks_per_quarter > 0 && file.ticks_per_quarter < 0x8000, "encode_midi: ticks per quarter ",
        file.ticks_per_quarter, " is outside 1..32767");
  std::string out = "MThd";
  detail::put_u32(out, 6);
  detail::put_u16(out, file.format);
  detail::put_u16(out, int(file.tracks.size()));
  detail::put_u16(out, file.ticks_per_quarter);
  for (const MidiTrack& track : file.tracks) {
    std::string body;
    std::int64_t last = 0;
    bool ended = false;
    for (const MidiEvent& e : track.events) {
      check(!ended, "encode_midi: event after End of Track");
      check(e.tick >= last, "encode_midi: events out of time order (tick ", e.tick, " after ", last, ")");
      detail::put_vlq(body, std::uint32_t(std::min<std::int64_t>(e.tick - last, 0x7FFFFFFF)));
      last = e.tick;
      body += char(e.status);
      if (e.status == 0xFF) {
        body += char(e.meta_type);
        detail::put_vlq(body, std::uint32_t(e.data.size()));
        ended = e.meta_type == kMetaEndOfTrack;
      } else if (e.status == 0xF0 || e.status == 0xF7) {
        detail::put_vlq(body, std::uint32_t(e.data.size()));
      }
      body.append(e.data.begin(), e.data.end());
    }
    if (!ended) {
      detail::put_vlq(body, 0);
      body += "\xFF\x2F";
      body += '\0';
    }
    out += "MTrk";
    detail::put_u32(out, std::uint32_t(body.size()));
    out += body;
  }
  return out;
}

}  // namespace legato::music
