#pragma once
// Tensor: a float32, row-major, contiguous array of rank 0 to 4 with a device
// tag, shared storage and an optional gradient history.
//
//   Tensor x = Tensor::uniform({2, 3}, -1.f, 1.f, rng);   // shape (2, 3)
//   Tensor y = x.view({3, 2});                            // same storage
//   x.at({1, 2}) = 5.f;                                   // y.at({2, 1}) is 5 too
//
// There are no general strides: every tensor is contiguous, so every op may
// walk its buffer linearly. Views made by view()/reshape share the storage.
// The gradient machinery (Node, backward) lives in autograd.hpp; this header
// only holds the fields that it needs.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iomanip>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "legato/util/error.hpp"
#include "legato/util/random.hpp"

namespace legato {

// ---------------------------------------------------------------- shapes ----

using Shape = std::vector<std::int64_t>;
constexpr int kMaxRank = 4;

inline std::int64_t numel_of(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

inline std::string shape_str(const Shape& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

inline void check_shape(const Shape& shape, const char* where) {
  check(shape.size() <= kMaxRank, where, ": rank ", shape.size(), " ", shape_str(shape), " exceeds the maximum of 4");
  for (auto d : shape) check(d >= 0, where, ": negative dimension in shape ", shape_str(shape));
}

// Turns a possibly negative axis into 0..rank-1, or throws naming the op.
inline int normalize_axis(int axis, std::size_t rank, const char* op) {
  const int r = static_cast<int>(rank);
  const int a = axis < 0 ? axis + r : axis;
  check(a >= 0 && a < r, op, ": axis ", axis, " is out of range for rank ", r);
  return a;
}

// --------------------------------------------------------------- devices ----

enum class Device : std::uint8_t { cpu, cuda };

inline const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

// Memory for one device, and the few primitives the core needs on it. The
// CPU's are built in (allocate and release; the rest is plain loops); the
// CUDA backend (kernels/, LEGATO_CUDA=ON) installs its own here at start-up
// (cuda/tensor_device.hpp), so the header-only library needs no CUDA headers.
struct DeviceAllocator {
  float* (*allocate)(std::size_t count) = nullptr;
  void (*release)(float* data) = nullptr;
  // Copies count floats between this device and the host (to_device = host -> device).
  void (*copy)(float* dst, const float* src, std::size_t count, bool to_device) = nullptr;
  // On the device: dst[i] = value; dst = src; acc += src (gradient accumulation).
  void (*fill)(float* dst, std::size_t count, float value) = nullptr;
  void (*copy_within)(float* dst, const float* src, std::size_t count) = nullptr;
  void (*accumulate)(float* acc, const float* src, std::size_t count) = nullptr;
};

inline DeviceAllocator& device_allocator(Device device) {
  static DeviceAllocator cuda_allocator;  // empty until the CUDA library registers
  static DeviceAllocator cpu_allocator{
      [](std::size_t count) -> float* {
        // 64-byte alignment suits AVX-512 loads; the size must be a multiple of it.
        const std::size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
        void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
        if (!p) throw std::bad_alloc();
        return static_cast<float*>(p);
      },
      [](float* data) { std::free(data); }};
  return device == Device::cpu ? cpu_allocator : cuda_allocator;
}

// A buffer of floats on one device. Tensors share it through shared_ptr.
struct Storage {
  float* data = nullptr;
  std::int64_t size = 0;
  Device device = Device::cpu;

  Storage(std::int64_t count, Device where) : size(count), device(where) {
    auto& allocator = device_allocator(where);
    check(allocator.allocate != nullptr, "Storage: no allocator for device '", device_name(where),
          "' (was legato built with LEGATO_CUDA=ON and is a GPU present?)");
    data = allocator.allocate(static_cast<std::size_t>(count));
  }
  ~Storage() {
    if (data) device_allocator(device).release(data);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// --------------------------------------------------------------- indices ----

// Integer tensors only appear as indices (token ids, class targets, argmax);
// they never need gradients, so they are a plain shape plus a vector.
struct Ids {
  Shape shape;
  std::vector<std::int32_t> values;  // row-major, numel_of(shape) entries
};

// ---------------------------------------------------------------- tensor ----

struct Node;  // autograd.hpp
class Tensor;

struct TensorImpl {
  Shape shape;
  std::shared_ptr<Storage> storage;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // how this tensor was computed, if tracked
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: defined() is false

  // Uninitialised tensor of the given shape (contents are garbage).
  static Tensor empty(const Shape& shape, Device device = Device::cpu) {
    check_shape(shape, "Tensor::empty");
    Tensor t;
    t.impl_ = std::make_shared<TensorImpl>();
    t.impl_->shape = shape;
    t.impl_->storage = std::make_shared<Storage>(numel_of(shape), device);
    return t;
  }
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu) {
    Tensor t = empty(shape, device);
    t.fill_(value);
    return t;
  }
  static Tensor zeros(const Shape& shape, Device device = Device::cpu) { return full(shape, 0.f, device); }
  static Tensor ones(const Shape& shape, Device device = Device::cpu) { return full(shape, 1.f, device); }
  static Tensor scalar(float value) { return full({}, value); }

  // [start, start + step, ...) below end, as a 1-D tensor.
  static Tensor arange(float start, float end, float step = 1.f) {
    check(step != 0.f, "Tensor::arange: step must not be 0");
    const auto count = static_cast<std::int64_t>(std::max(0.0, std::ceil((double(end) - start) / step)));
    Tensor t = empty({count});
    for (std::int64_t i = 0; i < count; ++i) t.data()[i] = start + step * static_cast<float>(i);
    return t;
  }
  static Tensor arange(std::int64_t n) { return arange(0.f, static_cast<float>(n)); }

  static Tensor from_vector(const Shape& shape, const std::vector<float>& values) {
    check_shape(shape, "Tensor::from_vector");
    check(static_cast<std::int64_t>(values.size()) == numel_of(shape), "Tensor::from_vector: ", values.size(),
          " values do not fill shape ", shape_str(shape));
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }
  static Tensor from(std::initializer_list<float> values) {
    return from_vector({static_cast<std::int64_t>(values.size())}, std::vector<float>(values));
  }
  static Tensor from(const Shape& shape, std::initializer_list<float> values) {
    return from_vector(shape, std::vector<float>(values));
  }

  static Tensor uniform(const Shape& shape, float lo, float hi, Rng& rng = global_rng()) {
    Tensor t = empty(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(lo, hi);
    return t;
  }
  static Tensor normal(const Shape& shape, float mean, float stddev, Rng& rng = global_rng()) {
    Tensor t = empty(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.normal(mean, stddev);
    return t;
  }

  // ---- shape and storage ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int dim() const { return static_cast<int>(impl().shape.size()); }
  std::int64_t size(int axis) const { return shape()[normalize_axis(axis, shape().size(), "Tensor::size")]; }
  std::int64_t numel() const { return numel_of(impl().shape); }
  Device device() const { return impl().storage->device; }
  bool is_cpu() const { return device() == Device::cpu; }

  float* data() { return impl().storage->data; }
  const float* data() const { return impl().storage->data; }
  bool shares_storage_with(const Tensor& other) const { return impl().storage == other.impl().storage; }

  // Element access by a full index, e.g. t.at({b, t, h}). Checked.
  float& at(std::initializer_list<std::int64_t> index) { return data()[offset_of(index)]; }
  float at(std::initializer_list<std::int64_t> index) const { return data()[offset_of(index)]; }

  // The value of a one-element tensor (from a device tensor too: reading
  // one value back is what item() is for, a loss to print, say).
  float item() const {
    check(numel() == 1, "Tensor::item: tensor of shape ", shape_str(shape()), " has ", numel(),
          " elements, not 1");
    if (is_cpu()) return data()[0];
    float value = 0.f;
    device_allocator(device()).copy(&value, data(), 1, /*to_device=*/false);
    return value;
  }

  std::vector<float> to_vector() const {
    check(is_cpu(), "Tensor::to_vector: tensor is on ", device_name(device()));
    return std::vector<float>(data(), data() + numel());
  }

  // Same storage, new shape, and no gradient history. Use legato::reshape()
  // (ops/shape.hpp) when gradients must flow through the reshape.
  Tensor view(const Shape& new_shape) const {
    check_shape(new_shape, "Tensor::view");
    check(numel_of(new_shape) == numel(), "Tensor::view: cannot view shape ", shape_str(shape()), " as ",
          shape_str(new_shape));
    Tensor t;
    t.impl_ = std::make_shared<TensorImpl>();
    t.impl_->shape = new_shape;
    t.impl_->storage = impl().storage;
    return t;
  }

  // A copy on another device (a deep copy even when the device is the same),
  // with no gradient history. Mixing devices in an op is an error, never an
  // implicit copy: this is the one place data moves between devices.
  Tensor to(Device target) const {
    if (device() == target) return clone();
    const Device remote = target == Device::cpu ? device() : target;  // the side that is not the cpu
    auto& allocator = device_allocator(remote);
    check(allocator.copy != nullptr, "Tensor::to: no copy routine for device '", device_name(remote),
          "' (legato was built without CUDA, or no GPU is present)");
    Tensor t = empty(shape(), target);
    allocator.copy(t.data(), data(), static_cast<std::size_t>(numel()), target != Device::cpu);
    return t;
  }

  // A deep copy on the same device, with no gradient history.
  Tensor clone() const {
    Tensor t = empty(shape(), device());
    if (is_cpu())
      std::memcpy(t.data(), data(), sizeof(float) * static_cast<std::size_t>(numel()));
    else
      device_allocator(device()).copy_within(t.data(), data(), static_cast<std::size_t>(numel()));
    return t;
  }

  // Moves this tensor's elements to another device in place: every handle
  // to it (a module's member, an optimiser's list) sees the move. Its
  // gradient is dropped. This is how nn::Module::to moves a model.
  void move_to(Device target) {
    if (device() == target) return;
    impl().storage = to(target).impl().storage;
    impl().grad.reset();
  }

  // Same storage, cut from the graph: gradients do not flow through it.
  Tensor detach() const { return view(shape()); }

  // From now on this tensor's elements are those of `source`, a tensor of
  // the same shape and device: every handle to it reads and writes source's
  // storage. Its gradient and its place in the graph stay its own, which is
  // what a data-parallel replica needs (nn::Module::share_parameters_of).
  void share_storage_of(const Tensor& source) {
    check(source.shape() == shape() && source.device() == device(), "Tensor::share_storage_of: a tensor of shape ",
          shape_str(shape()), " on ", device_name(device()), " cannot share the storage of one of shape ",
          shape_str(source.shape()), " on ", device_name(source.device()));
    impl().storage = source.impl().storage;
  }

  void fill_(float value) {
    if (is_cpu())
      std::fill_n(data(), numel(), value);
    else
      device_allocator(device()).fill(data(), static_cast<std::size_t>(numel()), value);
  }

  // ---- autograd (implemented in autograd.hpp) ----
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool on = true) {
    check(!on || !impl().grad_fn, "Tensor::set_requires_grad: only leaf tensors can be marked; this one was made by an op");
    impl().requires_grad = on;
    return *this;
  }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const {
    Tensor g;
    g.impl_ = impl().grad;
    return g;
  }
  void zero_grad() { impl().grad.reset(); }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }

  // Back-propagate from a scalar (seed 1) or with an explicit output gradient.
  void backward() const;
  void backward(const Tensor& grad_output) const;

  TensorImpl& impl() const {
    check(impl_ != nullptr, "Tensor: use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  static Tensor from_impl(std::shared_ptr<TensorImpl> impl) {
    Tensor t;
    t.impl_ = std::move(impl);
    return t;
  }

 private:
  std::int64_t offset_of(std::initializer_list<std::int64_t> index) const {
    const Shape& s = shape();
    check(index.size() == s.size(), "Tensor::at: ", index.size(), " indices for a tensor of shape ", shape_str(s));
    check(is_cpu(), "Tensor::at: tensor is on ", device_name(device()));
    std::int64_t offset = 0;
    std::size_t axis = 0;
    for (auto i : index) {
      check(i >= 0 && i < s[axis], "Tensor::at: index ", i, " out of range for axis ", axis, " of shape ",
            shape_str(s));
      offset = offset * s[axis] + i;
      ++axis;
    }
    return offset;
  }

  std::shared_ptr<TensorImpl> impl_;
};

// The device an op runs on: that of its defined inputs, which must all agree.
// Mixing devices is an error naming the op and the devices, never an implicit
// copy (Tensor::to is the one place data moves).
inline Device common_device(const char* op, const Tensor& a, const Tensor& b = Tensor(), const Tensor& c = Tensor()) {
  const Device d = a.device();
  for (const Tensor* t : {&b, &c})
    if (t->defined())  // (check's message is built before the test, so an undefined tensor must not reach it)
      check(t->device() == d, op, ": inputs on different devices (", device_name(d), " and ",
            device_name(t->device()), "); move them to one with Tensor::to");
  return d;
}

// ------------------------------------------------------------- printing ----

inline std::ostream& operator<<(std::ostream& out, const Tensor& t) {
  if (!t.defined()) return out << "Tensor(undefined)";
  out << "Tensor(shape=" << shape_str(t.shape()) << ", " << device_name(t.device());
  if (t.requires_grad()) out << ", requires_grad";
  out << ")";
  if (!t.is_cpu()) return out;
  // Print up to 6 values per innermost row and 6 rows per level, like NumPy's summary.
  const Shape& s = t.shape();
  const float* p = t.data();
  std::ostringstream body;
  body << std::setprecision(5);
  auto print_level = [&](auto&& self, std::size_t axis, std::int64_t offset) -> void {
    if (axis == s.size()) {
      body << p[offset];
      return;
    }
    std::int64_t stride = 1;
    for (std::size_t k = axis + 1; k < s.size(); ++k) stride *= s[k];
    body << "[";
    for (std::int64_t i = 0; i < s[axis]; ++i) {
      if (s[axis] > 6 && i == 3) {
        body << "..., ";
        i = s[axis] - 3;
      }
      self(self, axis + 1, offset + i * stride);
      if (i + 1 < s[axis]) body << ", ";
    }
    body << "]";
  };
  print_level(print_level, 0, 0);
  return out << " " << body.str();
}

// ------------------------------------------------- comparison for tests ----

struct Mismatch {
  std::int64_t index;
  float actual, expected;
};

// Elements where |actual - expected| > atol + rtol * |expected| (or NaN), the
// first `limit` of them.
inline std::vector<Mismatch> find_mismatches(const Tensor& actual, const Tensor& expected, float atol, float rtol,
                                             std::size_t limit = 5) {
  check(actual.shape() == expected.shape(), "find_mismatches: shapes ", shape_str(actual.shape()), " and ",
        shape_str(expected.shape()), " differ");
  check(actual.is_cpu() && expected.is_cpu(), "find_mismatches: compare on the cpu (Tensor::to(Device::cpu))");
  std::vector<Mismatch> out;
  for (std::int64_t i = 0; i < actual.numel() && out.size() < limit; ++i) {
    const float a = actual.data()[i], e = expected.data()[i];
    if (!(std::fabs(a - e) <= atol + rtol * std::fabs(e))) out.push_back({i, a, e});
  }
  return out;
}

inline bool allclose(const Tensor& actual, const Tensor& expected, float atol = 1e-5f, float rtol = 1e-4f) {
  return actual.shape() == expected.shape() && find_mismatches(actual, expected, atol, rtol, 1).empty();
}

inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  check(a.shape() == b.shape(), "max_abs_diff: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
        " differ");
  check(a.is_cpu() && b.is_cpu(), "max_abs_diff: compare on the cpu (Tensor::to(Device::cpu))");
  float worst = 0.f;
  for (std::int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::fabs(a.data()[i] - b.data()[i]));
  return worst;
}

// A one-paragraph report of the first mismatches, for test failure messages.
inline std::string describe_mismatches(const Tensor& actual, const Tensor& expected, float atol, float rtol) {
  std::ostringstream out;
  out << std::setprecision(8);
  if (actual.shape() != expected.shape()) {
    out << "shape " << shape_str(actual.shape()) << " != expected " << shape_str(expected.shape());
    return out.str();
  }
  auto bad = find_mismatches(actual, expected, atol, rtol, 5);
  if (bad.empty()) return "all within tolerance";
  out << "max |diff| " << max_abs_diff(actual, expected) << " (atol " << atol << ", rtol " << rtol
      << "); first mismatches:";
  for (auto& m : bad) out << " [" << m.index << "] " << m.actual << " vs " << m.expected << ";";
  return out.str();
}

}  // namespace legato

#include "legato/autograd.hpp"
