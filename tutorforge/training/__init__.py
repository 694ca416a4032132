"""Training: model and tokenizer loading (local dir, GGUF alias or hub id), the tokenizer job, Llama pretraining,
LoRA / QLoRA / full SFT, checkpoints with fingerprint + resume, precision, callbacks, DeepSpeed configs.

    tokenizer.py  byte-level BPE + chat template      pretrain.py  Llama pretraining     sft.py / sft_data.py  SFT
    models.py     load models/tokenizers              hardware.py  precision, ranks, MFU  callbacks.py  tokens/s, logs
    checkpoints.py  fingerprint + resume              deepspeed.py  ZeRO config           tiny.py  toy tokenizer/model

A train_log.jsonl record (artifacts/pretrain/train_log.jsonl):

    {"step": 20, "epoch": 0.37, "loss": 5.5865, "eval_loss": 5.91, "lr": 0.000998, "grad_norm": 1.94,
     "tokens_per_s": 6133.5, "mfu": null}
"""
