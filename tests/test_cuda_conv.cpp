// CUDA Conv1d, ConvTranspose1d (forward and backward), BatchNorm (both modes,
// forward and backward) and the SGD / Adam updates, against plain CPU loops
// in double on random shapes with odd sizes and size-1 dimensions. Runs only
// with LEGATO_CUDA and a GPU; otherwise prints "skipped: no CUDA device".
//
// Tolerances: convolutions 1e-5 + 1e-5 relative (sums of C K terms, and for
// weight gradients N L terms); BatchNorm 1e-4 + 1e-4 relative (float
// statistics over M values); optimisers 1e-6 + 1e-6 relative (elementwise).
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "legato/cuda/cuda.hpp"
#include "legato/tensor.hpp"

using namespace legato;

#ifdef LEGATO_CUDA

#include "cuda_check.hpp"

using namespace legato::cuda_test;

namespace {

// Random inputs in [lo, hi), this file's usual range by default.
Vec random_vector(std::size_t n, Rng& rng, float lo = -1.f, float hi = 1.f) { return random_uniform(n, rng, lo, hi); }

std::string describe(const cuda::Conv1dShape& s) {
  std::ostringstream o;
  o << "N " << s.N << " C_in " << s.C_in << " L " << s.L << " C_out " << s.C_out << " K " << s.K << " stride "
    << s.stride << " pad " << s.padding << " dil " << s.dilation << " out_pad " << s.output_padding;
  return o.str();
}

const cuda::Conv1dShape kConvShapes[] = {
    {1, 1, 1, 1, 1, 1, 0, 1, 0},  {2, 3, 17, 5, 3, 1, 1, 1, 0}, {3, 4, 16, 2, 4, 2, 1, 1, 1},
    {1, 7, 9, 1, 2, 3, 0, 2, 0},  {4, 1, 33, 6, 5, 1, 2, 1, 0}, {2, 5, 10, 3, 3, 2, 0, 3, 1},
};

}  // namespace

TEST_CASE("cuda: conv1d forward and backward match the CPU loops") {
  SKIP_WITHOUT_GPU();
  Rng rng(51);
  for (auto s : kConvShapes) {
    s.output_padding = 0;
    const std::int64_t Lo = cuda::conv1d_out_length(s);
    const Vec x = random_vector(sz(s.N * s.C_in * s.L), rng), w = random_vector(sz(s.C_out * s.C_in * s.K), rng),
              b = random_vector(sz(s.C_out), rng), dy = random_vector(sz(s.N * s.C_out * Lo), rng);
    VecD y(sz(s.N * s.C_out * Lo)), dx(x.size(), 0), dw(w.size(), 0), db(b.size(), 0);
    for (std::int64_t n = 0; n < s.N; ++n)
      for (std::int64_t o = 0; o < s.C_out; ++o)
        for (std::int64_t j = 0; j < Lo; ++j) {
          const std::size_t yi = sz((n * s.C_out + o) * Lo + j);
          double acc = b[sz(o)];
          db[sz(o)] += dy[yi];
          for (std::int64_t c = 0; c < s.C_in; ++c)
            for (std::int64_t k = 0; k < s.K; ++k) {
              const std::int64_t i = j * s.stride - s.padding + k * s.dilation;
              if (i < 0 || i >= s.L) continue;
              const std::size_t xi = sz((n * s.C_in + c) * s.L + i), wi = sz((o * s.C_in + c) * s.K + k);
              acc += double(w[wi]) * x[xi];
              dx[xi] += double(w[wi]) * dy[yi];
              dw[wi] += double(x[xi]) * dy[yi];
            }
          y[yi] = acc;
        }
    const auto gx = upload(x), gw = upload(w), gb = upload(b), gdy = upload(dy);
    cuda::Buffer out(y.size()), gdx(x.size()), gdw(w.size()), gdb(b.size());
    cuda::conv1d_forward(s, gx.data(), gw.data(), gb.data(), out.data());
    cuda::conv1d_backward(s, gx.data(), gw.data(), gdy.data(), gdx.data(), gdw.data(), gdb.data());
    const std::string name = "conv1d " + describe(s);
    check_close(download(out.data(), y.size()), y, 1e-5, 1e-5, name);
    check_close(download(gdx.data(), dx.size()), dx, 1e-5, 1e-5, name + " dx");
    check_close(download(gdw.data(), dw.size()), dw, 1e-5, 1e-5, name + " dw");
    check_close(download(gdb.data(), db.size()), db, 1e-5, 1e-5, name + " db");
  }
}

TEST_CASE("cuda: conv_transpose1d forward and backward match the CPU loops") {
  SKIP_WITHOUT_GPU();
  Rng rng(52);
  for (const auto& s : kConvShapes) {
    const std::int64_t Lo = cuda::conv_transpose1d_out_length(s);
    const Vec x = random_vector(sz(s.N * s.C_in * s.L), rng), w = random_vector(sz(s.C_in * s.C_out * s.K), rng),
              b = random_vector(sz(s.C_out), rng), dy = random_vector(sz(s.N * s.C_out * Lo), rng);
    VecD y(sz(s.N * s.C_out * Lo), 0), dx(x.size(), 0), dw(w.size(), 0), db(b.size(), 0);
    // Scatter form: x[n][c][j] adds w[c][o][k] x to y[n][o][j s - p + k d].
    for (std::int64_t n = 0; n < s.N; ++n)
      for (std::int64_t o = 0; o < s.C_out; ++o)
        for (std::int64_t i = 0; i < Lo; ++i) {
          y[sz((n * s.C_out + o) * Lo + i)] = b[sz(o)];
          db[sz(o)] += dy[sz((n * s.C_out + o) * Lo + i)];
        }
    for (std::int64_t n = 0; n < s.N; ++n)
      for (std::int64_t c = 0; c < s.C_in; ++c)
        for (std::int64_t j = 0; j < s.L; ++j)
          for (std::int64_t o = 0; o < s.C_out; ++o)
            for (std::int64_t k = 0; k < s.K; ++k) {
              const std::int64_t i = j * s.stride - s.padding + k * s.dilation;
              if (i < 0 || i >= Lo) continue;
              const std::size_t xi = sz((n * s.C_in + c) * s.L + j), wi = sz((c * s.C_out + o) * s.K + k),
                                yi = sz((n * s.C_out + o) * Lo + i);
              y[yi] += double(w[wi]) * x[xi];
              dx[xi] += double(w[wi]) * dy[yi];
              dw[wi] += double(x[xi]) * dy[yi];
            }
    const auto gx = upload(x), gw = upload(w), gb = upload(b), gdy = upload(dy);
    cuda::Buffer out(y.size()), gdx(x.size()), gdw(w.size()), gdb(b.size());
    cuda::conv_transpose1d_forward(s, gx.data(), gw.data(), gb.data(), out.data());
    cuda::conv_transpose1d_backward(s, gx.data(), gw.data(), gdy.data(), gdx.data(), gdw.data(), gdb.data());
    const std::string name = "conv_transpose1d " + describe(s);
    check_close(download(out.data(), y.size()), y, 1e-5, 1e-5, name);
    check_close(download(gdx.data(), dx.size()), dx, 1e-5, 1e-5, name + " dx");
    check_close(download(gdw.data(), dw.size()), dw, 1e-5, 1e-5, name + " dw");
    check_close(download(gdb.data(), db.size()), db, 1e-5, 1e-5, name + " db");
  }
  cuda::Conv1dShape bad{1, 1, 2, 1, 5, 1, 0, 1, 0};
  CHECK_THROWS_AS(cuda::conv1d_out_length(bad), Error);  // kernel longer than the padded input
}

TEST_CASE("cuda: batch norm in training and eval mode, forward and backward") {
  SKIP_WITHOUT_GPU();
  Rng rng(53);
  struct Case {
    std::int64_t N, C, L;
    bool affine;
  };
  const Case cases[] = {{2, 1, 1, true}, {5, 3, 1, false}, {4, 7, 9, true}, {1, 2, 33, true}, {64, 16, 3, true}};
  const float eps = 1e-5f, momentum = 0.1f;
  for (const auto& c : cases) {
    const std::int64_t M = c.N * c.L;
    const Vec x = random_vector(sz(c.N * c.C * c.L), rng, -2.f, 3.f), dy = random_vector(x.size(), rng);
    const Vec weight = random_vector(sz(c.C), rng, 0.5f, 1.5f), bias = random_vector(sz(c.C), rng);
    const Vec rm0 = random_vector(sz(c.C), rng), rv0 = random_vector(sz(c.C), rng, 0.5f, 2.f);
    for (bool training : {true, false}) {
      VecD y(x.size()), dx(x.size()), dw(sz(c.C), 0), dbias(sz(c.C), 0), rm(sz(c.C)), rv(sz(c.C));
      for (std::int64_t ch = 0; ch < c.C; ++ch) {
        auto at = [&](std::int64_t q) { return sz(((q / c.L) * c.C + ch) * c.L + q % c.L); };
        double mean = 0, var = 0;
        for (std::int64_t q = 0; q < M; ++q) mean += x[at(q)];
        mean /= double(M);
        for (std::int64_t q = 0; q < M; ++q) var += (x[at(q)] - mean) * (x[at(q)] - mean);
        var /= double(M);
        rm[sz(ch)] = (1 - momentum) * double(rm0[sz(ch)]) + momentum * mean;
        rv[sz(ch)] = (1 - momentum) * double(rv0[sz(ch)]) + momentum * var * double(M) / double(M - 1);
        if (!training) {
          mean = rm0[sz(ch)];
          var = rv0[sz(ch)];
        }
        const double invstd = 1 / std::sqrt(var + eps), g = c.affine ? weight[sz(ch)] : 1.0,
                     b = c.affine ? bias[sz(ch)] : 0.0;
        double s_dy = 0, s_dy_xhat = 0;
        for (std::int64_t q = 0; q < M; ++q) {
          const double xhat = (x[at(q)] - mean) * invstd;
          y[at(q)] = xhat * g + b;
          s_dy += dy[at(q)];
          s_dy_xhat += dy[at(q)] * xhat;
        }
        dw[sz(ch)] = s_dy_xhat;
        dbias[sz(ch)] = s_dy;
        for (std::int64_t q = 0; q < M; ++q) {
          const double xhat = (x[at(q)] - mean) * invstd, dxhat = dy[at(q)] * g;
          dx[at(q)] = training ? invstd / double(M) * (double(M) * dxhat - g * s_dy - xhat * g * s_dy_xhat)
                               : dxhat * invstd;
        }
      }
      const auto gx = upload(x), gdy = upload(dy), gw = upload(weight), gb = upload(bias);
      auto grm = upload(rm0), grv = upload(rv0);
      cuda::Buffer out(x.size()), mean(sz(c.C)), invstd(sz(c.C)), gdx(x.size()), gdw(sz(c.C)), gdb(sz(c.C));
      const float* wp = c.affine ? gw.data() : nullptr;
      cuda::batch_norm_forward(gx.data(), c.N, c.C, c.L, wp, c.affine ? gb.data() : nullptr, grm.data(), grv.data(),
                               training, momentum, eps, out.data(), mean.data(), invstd.data());
      cuda::batch_norm_backward(gx.data(), gdy.data(), c.N, c.C, c.L, wp, mean.data(), invstd.data(), training,
                                gdx.data(), gdw.data(), gdb.data());
      std::ostringstream name;
      name << "batch_norm (" << c.N << ", " << c.C << ", " << c.L << ") " << (training ? "training" : "eval")
           << (c.affine ? " affine" : "");
      check_close(download(out.data(), y.size()), y, 1e-4, 1e-4, name.str());
      check_close(download(gdx.data(), dx.size()), dx, 1e-4, 1e-4, name.str() + " dx");
      check_close(download(gdw.data(), dw.size()), dw, 1e-4, 1e-4, name.str() + " dweight");
      check_close(download(gdb.data(), dbias.size()), dbias, 1e-4, 1e-4, name.str() + " dbias");
      if (training) {
        check_close(download(grm.data(), rm.size()), rm, 1e-5, 1e-5, name.str() + " running_mean");
        check_close(download(grv.data(), rv.size()), rv, 1e-5, 1e-4, name.str() + " running_var");
      } else {  // eval leaves the running statistics alone
        check_close(download(grm.data(), rm0.size()), VecD(rm0.begin(), rm0.end()), 0, 0, name.str() + " running_mean");
      }
    }
  }
  cuda::Buffer one(3), out(3), s1(3), s2(3);
  CHECK_THROWS_AS(cuda::batch_norm_forward(one.data(), 1, 3, 1, nullptr, nullptr, nullptr, nullptr, true, 0.1f, 1e-5f,
                                           out.data(), s1.data(), s2.data()),
                  Error);  // one value per channel cannot be normalised in training
}

TEST_CASE("cuda: SGD and Adam updates follow torch.optim") {
  SKIP_WITHOUT_GPU();
  Rng rng(54);
  const std::size_t n = 1001;
  const Vec p0 = random_vector(n, rng), g1 = random_vector(n, rng), g2 = random_vector(n, rng);
  struct Sgd {
    float momentum, wd;
    bool nesterov;
  };
  for (const auto& cfg : {Sgd{0.f, 0.f, false}, Sgd{0.9f, 0.f, false}, Sgd{0.9f, 1e-2f, true}}) {
    auto p = upload(p0), buf = upload(Vec(n, 0.f));
    const auto d1 = upload(g1), d2 = upload(g2);
    const float lr = 0.1f;
    cuda::sgd_step(p.data(), d1.data(), buf.data(), std::int64_t(n), lr, cfg.momentum, cfg.wd, cfg.nesterov, true);
    cuda::sgd_step(p.data(), d2.data(), buf.data(), std::int64_t(n), lr, cfg.momentum, cfg.wd, cfg.nesterov, false);
    VecD expected(n);
    for (std::size_t i = 0; i < n; ++i) {
      double pp = p0[i], b = 0;
      for (int step = 0; step < 2; ++step) {
        double g = (step == 0 ? g1[i] : g2[i]) + double(cfg.wd) * pp;
        if (cfg.momentum != 0.f) {
          b = step == 0 ? g : cfg.momentum * b + g;
          g = cfg.nesterov ? g + cfg.momentum * b : b;
        }
        pp -= lr * g;
      }
      expected[i] = pp;
    }
    check_close(download(p.data(), n), expected, 1e-6, 1e-6,
                "sgd momentum " + std::to_string(cfg.momentum) + (cfg.nesterov ? " nesterov" : ""));
  }
  for (bool decoupled : {false, true}) {
    auto p = upload(p0), m = upload(Vec(n, 0.f)), v = upload(Vec(n, 0.f));
    const auto d1 = upload(g1), d2 = upload(g2);
    const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.05f;
    cuda::adam_step(p.data(), d1.data(), m.data(), v.data(), std::int64_t(n), lr, b1, b2, eps, wd, 1, decoupled);
    cuda::adam_step(p.data(), d2.data(), m.data(), v.data(), std::int64_t(n), lr, b1, b2, eps, wd, 2, decoupled);
    VecD expected(n);
    for (std::size_t i = 0; i < n; ++i) {
      double pp = p0[i], mm = 0, vv = 0;
      for (int step = 1; step <= 2; ++step) {
        double g = step == 1 ? g1[i] : g2[i];
        if (decoupled)
          pp -= double(lr) * wd * pp;
        else
          g += double(wd) * pp;
        mm = b1 * mm + (1 - double(b1)) * g;
        vv = b2 * vv + (1 - double(b2)) * g * g;
        const double bc1 = 1 - std::pow(double(b1), step), bc2 = 1 - std::pow(double(b2), step);
        pp -= double(lr) / bc1 * mm / (std::sqrt(vv) / std::sqrt(bc2) + eps);
      }
      expected[i] = pp;
    }
    check_close(download(p.data(), n), expected, 1e-6, 1e-5, decoupled ? "adamw" : "adam");
  }
  cuda::Buffer p(1), g(1);
  CHECK_THROWS_AS(cuda::adam_step(p.data(), g.data(), p.data(), p.data(), 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 0), Error);
}

#else

TEST_CASE("cuda: conv1d, batch norm, optimisers") {
  MESSAGE("skipped: no CUDA device (legato was built without LEGATO_CUDA)");
}

#endif
