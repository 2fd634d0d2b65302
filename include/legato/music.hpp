#pragma once
// The music side of the house: it knows nothing of tensors. See docs/music.md.
//
//   Corpus corpus = load_corpus(dir);                        // corpus.hpp: read, filter, split, transpose
//   auto tokens = encode_timeseries(corpus.songs[0].song);   // timeseries.hpp: E-TS
//   Vocabulary vocab = Vocabulary::from_tokens(tokens);      // vocabulary.hpp: deterministic ids
//   write_melody_midi("out.mid", decode_timeseries(tokens)); // song_io.hpp: one call (.krn: write_melody_kern)
#include "legato/music/rational.hpp"
#include "legato/music/song.hpp"
#include "legato/music/duration_table.hpp"
#include "legato/music/kern_reader.hpp"
#include "legato/music/key.hpp"
#include "legato/music/corpus.hpp"
#include "legato/music/timeseries.hpp"
#include "legato/music/metric_position.hpp"
#include "legato/music/vocabulary.hpp"
#include "legato/music/twoseq.hpp"
#include "legato/music/vae_series.hpp"
#include "legato/music/midi_file.hpp"
#include "legato/music/midi_writer.hpp"
#include "legato/music/midi_reader.hpp"
#include "legato/music/kern_writer.hpp"
#include "legato/music/from_melody.hpp"
#include "legato/music/melody_output.hpp"
#include "legato/music/song_io.hpp"
#include "legato/music/ngram.hpp"
