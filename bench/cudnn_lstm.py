#!/usr/bin/env python3
"""PyTorch's nn.LSTM on cuDNN at the shapes of bench/cuda_lstm_bench.cpp.

Times, with CUDA events after a warm-up, the same work as our benchmark:
  forward:          out, _ = lstm(x)             (training mode: grad enabled, so
                                                 cuDNN keeps what the backward needs)
  forward+backward: the forward, then out.backward(g), which computes dx and
                    every weight gradient.
Input x is (T, B, I), time-major like legato; h0 = c0 = 0.

Each shape is measured twice: with PyTorch's defaults (cuDNN may use TF32
tensor cores for the GEMMs: torch.backends.cudnn.allow_tf32 is True by
default) and with TF32 off (plain fp32, the arithmetic legato's kernels do).

  python3 bench/cudnn_lstm.py [--shapes BxTxIxH,...] [--iters N] [--warmup N]

One line per measurement:
  cudnn B=64 T=64 I=45 H=256 tf32=1 fwd_ms=... fwdbwd_ms=...
"""
import argparse
import sys


def parse_shapes(text):
    shapes = []
    for part in text.split(","):
        fields = part.split("x")
        if len(fields) != 4 or not all(f.isdigit() and int(f) > 0 for f in fields):
            raise SystemExit(f"cudnn_lstm.py: shape '{part}' is not BxTxIxH")
        shapes.append(tuple(int(f) for f in fields))
    return shapes


def time_ms(torch, fn, warmup, iters):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / iters


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="64x64x45x256,256x64x45x256,64x64x45x512,64x64x45x1024")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    shapes = parse_shapes(args.shapes)

    import torch

    if not torch.cuda.is_available():
        print("cudnn_lstm.py: no CUDA device visible to PyTorch", file=sys.stderr)
        return 1
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"device {torch.cuda.get_device_name(0)}")
    print(f"iterations: {args.iters} after {args.warmup} warm-up")
    device = torch.device("cuda")
    torch.manual_seed(0)
    for (B, T, I, H) in shapes:
        for tf32 in (True, False):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            lstm = torch.nn.LSTM(I, H).to(device)  # time-major (T, B, I), gate order i, f, g, o
            x = torch.rand(T, B, I, device=device) * 2 - 1
            x.requires_grad_(True)
            g = torch.rand(T, B, H, device=device) * 2 - 1

            def forward():
                out, _ = lstm(x)
                return out

            def forward_backward():
                out, _ = lstm(x)
                out.backward(g)

            fwd = time_ms(torch, forward, args.warmup, args.iters)
            fwdbwd = time_ms(torch, forward_backward, args.warmup, args.iters)
            print(f"cudnn B={B} T={T} I={I} H={H} tf32={int(tf32)} fwd_ms={fwd:.4f} fwdbwd_ms={fwdbwd:.4f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
