"""Training throughput benchmark: tokens/s and MFU of full fine-tuning steps on this machine.

    .venv/bin/python benchmarks/training.py [--model DIR] [--seq-len 512] [--batch-size 4] [--steps 5]
        [--warmup 2] [--dtype auto] [--gradient-checkpointing] [--peak-tflops X] [--threads N]

Runs forward + backward + AdamW steps of the model (default: the embedded SmolLM2-135M-Instruct,
converted once per machine) on random token batches of `--batch-size` x `--seq-len`, on CUDA
when there is one, else CPU; after `--warmup` untimed steps it reports seconds per step, training
tokens/s and the model FLOPs utilization:

    MFU = 6 x parameters x tokens/s / peak FLOP/s

(6 N per token: forward 2N, backward 4N; attention's extra FLOPs are left out, as in the usual
estimate, so MFU is slightly understated at long sequence lengths). The peak is the dense bf16
(or fp32 on CPU) figure of the GPU from a table of known cards, or `--peak-tflops`. On CPU there
is no published peak: a large matmul is timed and taken as the peak, so the CPU MFU is an
estimate of how close training comes to this machine's own matmul speed.

This is one process on one device. For the recipe's run (8 x H100, ZeRO-3), the `sft_checkpoint`
asset reports the measured tokens/s of every logged step in its metadata; per-GPU MFU is that
figure divided by the number of GPUs, put through the same formula.
"""

from __future__ import annotations

import argparse
import time

import torch

# Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from the vendors' data sheets.
PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,  # a name without form factor: most H100s in clusters are SXM
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "RTX 4090": 165.0,
    "RTX 3090": 71.0,
    "V100": 125.0,  # fp16
    "T4": 65.0,  # fp16
}


def gpu_peak_tflops(name: str) -> float | None:
    """The table's peak for a CUDA device name ("NVIDIA H100 80GB HBM3"), longest matching key first."""
    for key in sorted(PEAK_TFLOPS, key=len, reverse=True):
        if key.replace(" ", "").lower() in name.replace(" ", "").lower():
            return PEAK_TFLOPS[key]
    return None


def measured_matmul_tflops(device: str, dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """TFLOP/s of a square matmul, the best of `repeats` (the CPU's practical peak)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e12


def load_model(path: str | None, device: str, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM

    if path is None:
        from medical_assets.resources.embedded_model import converted_checkpoint

        path = str(converted_checkpoint()[0])
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device), path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint directory or hub id (default: the embedded SmolLM2, converted)")
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU) | bfloat16 | float32")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak TFLOP/s (overrides the table)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = {"auto": torch.bfloat16 if device == "cuda" else torch.float32,
             "bfloat16": torch.bfloat16, "float32": torch.float32}[args.dtype]
    model, path = load_model(args.model, device, dtype)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device == "cuda")
    vocab = model.config.vocab_size
    generator = torch.Generator(device="cpu").manual_seed(0)

    def step() -> None:
        tokens = torch.randint(0, vocab, (args.batch_size, args.seq_len), generator=generator).to(device)
        loss = model(input_ids=tokens, labels=tokens).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    sync()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = (time.perf_counter() - started) / args.steps
    tokens_per_s = args.batch_size * args.seq_len / seconds

    if args.peak_tflops:
        peak, peak_source = args.peak_tflops, "--peak-tflops"
    elif device == "cuda":
        name = torch.cuda.get_device_name()
        peak = gpu_peak_tflops(name)
        peak_source = f"table entry for {name}" if peak else None
        if peak is None:
            peak, peak_source = measured_matmul_tflops(device, dtype), f"{name} not in the table: measured matmul"
    else:
        peak = measured_matmul_tflops(device, dtype)
        peak_source = (f"measured {dtype} matmul on {torch.get_num_threads()} CPU threads "
                       "(an estimate: no published peak)")
    mfu = 6 * parameters * tokens_per_s / (peak * 1e12)

    where = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"model:       {path} ({parameters / 1e6:.1f}M parameters, {dtype})")
    print(f"device:      {where}")
    print(f"batch:       {args.batch_size} x {args.seq_len} tokens, gradient checkpointing "
          f"{'on' if args.gradient_checkpointing else 'off'}, AdamW")
    print(f"step:        {seconds:.3f} s ({args.steps} timed after {args.warmup} warm-up)")
    print(f"throughput:  {tokens_per_s:,.0f} training tokens/s")
    print(f"peak:        {peak:,.1f} TFLOP/s ({peak_source})")
    print(f"MFU:         {100 * mfu:.1f}% (6 x params x tokens/s / peak{'; estimate' if device == 'cpu' else ''})")


if __name__ == "__main__":
    main()
