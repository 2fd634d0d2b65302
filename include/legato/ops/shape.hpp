#pragma once
// Shape ops: reshape (a view), squeeze/unsqueeze, concat, slice, stack, the
// row gather of an embedding lookup, and one_hot.
//
// Tensors are contiguous, so every op here that is not a reshape copies. Most
// of them see a tensor as (outer, n, inner) around one axis: `outer` is the
// product of the dimensions before it, `inner` of those after it. A slab of
// n * inner floats is then contiguous, which turns concat and slice into a
// few memcpy calls per outer index.

#include <cstring>

#include "legato/ops/elementwise.hpp"

namespace legato {

namespace detail {

struct AxisSplit {
  std::int64_t outer = 1, n = 1, inner = 1;
};

// (outer, n, inner) of `shape` around `axis` (already normalised).
inline AxisSplit split_at(const Shape& shape, int axis) {
  AxisSplit s;
  for (int k = 0; k < static_cast<int>(shape.size()); ++k) {
    const std::int64_t d = shape[static_cast<std::size_t>(k)];
    if (k < axis) s.outer *= d;
    else if (k == axis) s.n = d;
    else s.inner *= d;
  }
  return s;
}

// Flat row-major offset <-> multi-index; used by the plain-loop references.
inline std::vector<std::int64_t> unravel(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::size_t k = shape.size(); k-- > 0;) {
    index[k] = flat % shape[k];
    flat /= shape[k];
  }
  return index;
}
inline std::int64_t ravel(const std::vector<std::int64_t>& index, const Shape& shape) {
  std::int64_t flat = 0;
  for (std::size_t k = 0; k < shape.size(); ++k) flat = flat * shape[k] + index[k];
  return flat;
}

// Ids are built by users, so their shape and value count may disagree.
inline void check_ids(const Ids& ids, const char* op) {
  check(static_cast<std::int64_t>(ids.values.size()) == numel_of(ids.shape), op, ": ids hold ", ids.values.size(),
        " values but their shape ", shape_str(ids.shape), " has ", numel_of(ids.shape), " elements");
}

// `shape` with one -1 replaced so that it holds `count` elements.
inline Shape infer_shape(const Shape& from, const Shape& to, const char* op) {
  auto fail_shape = [&]() { fail(op, ": cannot reshape ", shape_str(from), " into ", shape_str(to)); };
  check(to.size() <= kMaxRank, op, ": rank ", to.size(), " of ", shape_str(to), " exceeds the maximum of 4");
  Shape out = to;
  int free_axis = -1;
  std::int64_t known = 1;
  for (std::size_t k = 0; k < to.size(); ++k) {
    if (to[k] == -1) {
      check(free_axis < 0, op, ": only one dimension may be -1, got ", shape_str(to));
      free_axis = static_cast<int>(k);
    } else if (to[k] < 0) {
      fail_shape();
    } else {
      known *= to[k];
    }
  }
  const std::int64_t count = numel_of(from);
  if (free_axis >= 0) {
    if (known == 0 || count % known != 0) fail_shape();  // 0 * ? is ambiguous
    out[static_cast<std::size_t>(free_axis)] = count / known;
  }
  if (numel_of(out) != count) fail_shape();
  return out;
}

// Position of a new axis inserted into a shape of rank `rank`: 0..rank, or
// negative counted from the end of the result (-1 appends).
inline int new_axis(int axis, const Shape& shape, const char* op) {
  const int rank = static_cast<int>(shape.size());
  const int a = axis < 0 ? axis + rank + 1 : axis;
  check(a >= 0 && a <= rank, op, ": axis ", axis, " is out of range for a new axis in shape ", shape_str(shape),
        " (expected ", -rank - 1, " to ", rank, ")");
  check(rank < kMaxRank, op, ": shape ", shape_str(shape), " already has the maximum rank of 4");
  return a;
}

}  // namespace detail

// ---------------------------------------------------------------- reshape ----

// The same elements in a new shape; one dimension may be -1 (inferred). The
// result shares x's storage. Gradient: g viewed in x's shape.
inline Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor out = x.view(detail::infer_shape(x.shape(), shape, "reshape"));
  record(out, "reshape", {x}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{g.view(in[0].shape())};
  });
  return out;
}

// Removes `axis`, which must have size 1: (B, 1, H) -> (B, H) for axis 1.
inline Tensor squeeze(const Tensor& x, int axis) {
  const int a = normalize_axis(axis, x.shape().size(), "squeeze");
  check(x.shape()[static_cast<std::size_t>(a)] == 1, "squeeze: axis ", axis, " of shape ", shape_str(x.shape()),
        " has size ", x.shape()[static_cast<std::size_t>(a)], ", not 1");
  Shape shape = x.shape();
  shape.erase(shape.begin() + a);
  return reshape(x, shape);
}

// Inserts an axis of size 1 at `axis` (in 0..rank, or negative counted from
// the end of the result): (B, H) -> (B, 1, H) for axis 1 or -2.
inline Tensor unsqueeze(const Tensor& x, int axis) {
  const int a = detail::new_axis(axis, x.shape(), "unsqueeze");
  Shape shape = x.shape();
  shape.insert(shape.begin() + a, 1);
  return reshape(x, shape);
}

// ----------------------------------------------------------------- concat ----

// Joins tensors along `axis`; all other dimensions must agree:
// (B, T1, H) and (B, T2, H) along axis 1 -> (B, T1 + T2, H).
// Gradient: each input gets its own stretch of g back.
inline Tensor concat(const std::vector<Tensor>& tensors, int axis) {
  check(!tensors.empty(), "concat: needs at least one tensor");
  const Shape& first = tensors[0].shape();
  const int a = normalize_axis(axis, first.size(), "concat");
  Shape shape = first;
  shape[static_cast<std::size_t>(a)] = 0;
  for (const Tensor& t : tensors) {
    detail::check_cpu(t, "concat");
    bool same = t.shape().size() == first.size();
    for (std::size_t k = 0; same && k < first.size(); ++k) same = k == std::size_t(a) || t.shape()[k] == first[k];
    check(same, "concat: shapes ", shape_str(first), " and ", shape_str(t.shape()), " do not match outside axis ",
          axis);
    shape[static_cast<std::size_t>(a)] += t.shape()[static_cast<std::size_t>(a)];
  }
  Tensor out = Tensor::empty(shape);
  const auto split = detail::split_at(shape, a);
  std::int64_t offset = 0;  // where this input starts inside one output slab
  for (const Tensor& t : tensors) {
    const std::int64_t width = t.shape()[static_cast<std::size_t>(a)] * split.inner;
    for (std::int64_t o = 0; o < split.outer; ++o)
      std::memcpy(out.data() + o * split.n * split.inner + offset, t.data() + o * width, sizeof(float) * width);
    offset += width;
  }
  record(out, "concat", Inputs(tensors), [a](const Inputs& in, const Tensor&, const Tensor& g) {
    const auto split = detail::split_at(g.shape(), a);
    Grads grads(in.size());
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const std::int64_t width = in[i].shape()[static_cast<std::size_t>(a)] * split.inner;
      if (in[i].requires_grad()) {
        grads[i] = Tensor::empty(in[i].shape());
        for (std::int64_t o = 0; o < split.outer; ++o)
          std::memcpy(grads[i].data() + o * width, g.data() + o * split.n * split.inner + offset,
                      sizeof(float) * width);
      }
      offset += width;
    }
    return grads;
  });
  return out;
}

// ------------------------------------------------------------------ slice ----

// Elements start..end-1 along `axis`. start and end may be negative (counted
// from the end, like Python) but must then lie within the axis: a range that
// does not fit is an error, not silently clipped.
// Gradient: g written into a zero tensor of x's shape.
inline Tensor slice(const Tensor& x, int axis, std::int64_t start, std::int64_t end) {
  detail::check_cpu(x, "slice");
  const int a = normalize_axis(axis, x.shape().size(), "slice");
  const std::int64_t size = x.shape()[static_cast<std::size_t>(a)];
  const std::int64_t lo = start < 0 ? start + size : start;
  const std::int64_t hi = end < 0 ? end + size : end;
  check(0 <= lo && lo <= hi && hi <= size, "slice: range [", start, ", ", end, ") is out of bounds for axis ", axis,
        " of shape ", shape_str(x.shape()));
  Shape shape = x.shape();
  shape[static_cast<std::size_t>(a)] = hi - lo;
  Tensor out = Tensor::empty(shape);
  const auto split = detail::split_at(x.shape(), a);
  const std::int64_t width = (hi - lo) * split.inner;
  for (std::int64_t o = 0; o < split.outer; ++o)
    std::memcpy(out.data() + o * width, x.data() + (o * split.n + lo) * split.inner, sizeof(float) * width);
  record(out, "slice", {x}, [a, lo, width](const Inputs& in, const Tensor&, const Tensor& g) {
    // dx is g inside the range and zero around it; only the outside is zeroed
    // (a training step slices h_1..h_T out of (T+1, B, H): 1/65 of it).
    const auto split = detail::split_at(in[0].shape(), a);
    Tensor dx = Tensor::empty(in[0].shape());
    const std::int64_t row = split.n * split.inner, before = lo * split.inner;
    for (std::int64_t o = 0; o < split.outer; ++o) {
      float* block = dx.data() + o * row;
      std::fill_n(block, before, 0.f);
      std::memcpy(block + before, g.data() + o * width, sizeof(float) * width);
      std::fill(block + before + width, block + row, 0.f);
    }
    return Grads{dx};
  });
  return out;
}

// ------------------------------------------------------------------ stack ----

// Equal-shaped tensors joined along a new axis: n tensors (B, H) stacked on
// axis 1 give (B, n, H). It is concat of the inputs, each given a new axis of
// size 1 (a free view), so the gradient is concat's.
inline Tensor stack(const std::vector<Tensor>& tensors, int axis) {
  check(!tensors.empty(), "stack: needs at least one tensor");
  const Shape& first = tensors[0].shape();
  for (const Tensor& t : tensors)
    check(t.shape() == first, "stack: shapes ", shape_str(first), " and ", shape_str(t.shape()), " differ");
  const int a = detail::new_axis(axis, first, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(unsqueeze(t, a));
  return concat(expanded, a);
}

// ------------------------------------------------------------ gather_rows ----

// Embedding lookup: out[..., :] = table[ids[...], :].
//   table (V, E), ids of shape S -> S + (E), e.g. ids (B, T) -> (B, T, E).
// Gradient: each row of g is added into the table row it came from (rows that
// appear twice receive both).
inline Tensor gather_rows(const Tensor& table, const Ids& ids) {
  detail::check_cpu(table, "gather_rows");
  detail::check_ids(ids, "gather_rows");
  check(table.dim() == 2, "gather_rows: the table must be 2-D (N, E), got shape ", shape_str(table.shape()));
  check(ids.shape.size() < kMaxRank, "gather_rows: ids of shape ", shape_str(ids.shape),
        " would give a result above the maximum rank of 4");
  const std::int64_t rows = table.shape()[0], width = table.shape()[1];
  for (std::size_t i = 0; i < ids.values.size(); ++i)
    check(ids.values[i] >= 0 && ids.values[i] < rows, "gather_rows: id ", ids.values[i], " at position ", i,
          " is out of range for a table of N = ", rows, " rows");
  Shape shape = ids.shape;
  shape.push_back(width);
  Tensor out = Tensor::empty(shape);
  const float* src = table.data();
  float* dst = out.data();
  const auto count = static_cast<std::int64_t>(ids.values.size());
  parallel_for(
      count,
      [&](std::int64_t i) { std::memcpy(dst + i * width, src + ids.values[std::size_t(i)] * width, sizeof(float) * width); },
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, width)));
  record(out, "gather_rows", {table}, [index = ids.values](const Inputs& in, const Tensor&, const Tensor& g) {
    const std::int64_t width = in[0].shape()[1];
    Tensor dtable = Tensor::zeros(in[0].shape());
    // Serial: two positions with the same id write the same row.
    for (std::size_t i = 0; i < index.size(); ++i) {
      float* row = dtable.data() + index[i] * width;
      const float* grow = g.data() + static_cast<std::int64_t>(i) * width;
      for (std::int64_t e = 0; e < width; ++e) row[e] += grow[e];
    }
    return Grads{dtable};
  });
  return out;
}

// ---------------------------------------------------------------- one_hot ----

// ids of shape S -> S + (classes), 1 at each id and 0 elsewhere. No gradient
// (ids are integers).
inline Tensor one_hot(const Ids& ids, std::int64_t classes) {
  detail::check_ids(ids, "one_hot");
  check(classes > 0, "one_hot: the number of classes must be positive, got ", classes);
  check(ids.shape.size() < kMaxRank, "one_hot: ids of shape ", shape_str(ids.shape),
        " would give a result above the maximum rank of 4");
  Shape shape = ids.shape;
  shape.push_back(classes);
  Tensor out = Tensor::zeros(shape);
  for (std::size_t i = 0; i < ids.values.size(); ++i) {
    const std::int32_t id = ids.values[i];
    check(id >= 0 && id < classes, "one_hot: id ", id, " at position ", i, " is out of range for ", classes,
          " classes");
    out.data()[static_cast<std::int64_t>(i) * classes + id] = 1.f;
  }
  return out;
}

// ------------------------------------------------------ references -------
// One output element at a time, through full multi-indices.

inline Tensor concat_ref(const std::vector<Tensor>& tensors, int axis) {
  const int a = normalize_axis(axis, tensors.at(0).shape().size(), "concat_ref");
  Shape shape = tensors[0].shape();
  shape[std::size_t(a)] = 0;
  for (const Tensor& t : tensors) shape[std::size_t(a)] += t.shape()[std::size_t(a)];
  Tensor out = Tensor::empty(shape);
  for (std::int64_t o = 0; o < out.numel(); ++o) {
    auto index = detail::unravel(o, shape);
    std::size_t which = 0;
    while (index[std::size_t(a)] >= tensors[which].shape()[std::size_t(a)]) {
      index[std::size_t(a)] -= tensors[which].shape()[std::size_t(a)];
      ++which;
    }
    out.data()[o] = tensors[which].data()[detail::ravel(index, tensors[which].shape())];
  }
  return out;
}

inline Tensor slice_ref(const Tensor& x, int axis, std::int64_t start, std::int64_t end) {
  const int a = normalize_axis(axis, x.shape().size(), "slice_ref");
  const std::int64_t size = x.shape()[std::size_t(a)];
  if (start < 0) start += size;
  if (end < 0) end += size;
  Shape shape = x.shape();
  shape[std::size_t(a)] = end - start;
  Tensor out = Tensor::empty(shape);
  for (std::int64_t o = 0; o < out.numel(); ++o) {
    auto index = detail::unravel(o, shape);
    index[std::size_t(a)] += start;
    out.data()[o] = x.data()[detail::ravel(index, x.shape())];
  }
  return out;
}

inline Tensor stack_ref(const std::vector<Tensor>& tensors, int axis) {
  const Shape& first = tensors.at(0).shape();
  const int a = normalize_axis(axis, first.size() + 1, "stack_ref");
  Shape shape = first;
  shape.insert(shape.begin() + a, static_cast<std::int64_t>(tensors.size()));
  Tensor out = Tensor::empty(shape);
  for (std::int64_t o = 0; o < out.numel(); ++o) {
    auto index = detail::unravel(o, shape);
    const auto which = static_cast<std::size_t>(index[std::size_t(a)]);
    index.erase(index.begin() + a);
    out.data()[o] = tensors[which].data()[detail::ravel(index, first)];
  }
  return out;
}

inline Tensor gather_rows_ref(const Tensor& table, const Ids& ids) {
  const std::int64_t width = table.shape()[1];
  Shape shape = ids.shape;
  shape.push_back(width);
  Tensor out = Tensor::empty(shape);
  for (std::size_t i = 0; i < ids.values.size(); ++i)
    for (std::int64_t e = 0; e < width; ++e)
      out.data()[std::int64_t(i) * width + e] = table.at({ids.values[i], e});
  return out;
}

}  // namespace legato
