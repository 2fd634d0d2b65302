// Minimal outside user of an installed legato: one gradient, checked.
#include <legato/legato.hpp>

#include <cstdio>

int main() {
  using namespace legato;
  Tensor x = Tensor::from({3.f}).set_requires_grad();
  mul(x, x).backward();  // d(x^2)/dx = 6
  const bool ok = x.grad().item() == 6.f;
  std::printf("consumer: legato found, d(x^2)/dx at 3 = %g -> %s\n", x.grad().item(), ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
