"""TutorForge: textbooks (PDF) + teachers' annotations -> a curriculum-aligned tutor, reproducibly.

One folder per domain; `stages/` (one thin module per DVC stage) and `flows/` (Prefect flows) call into it:

    core/          config (validated params.yaml), stage CLI, io, ids, logs, typed records
    pdf/           PDF reading, OCR, the ingest job, the one PDF writer
    corpus/        the bundled sample textbooks and seed annotations, synthetic test/benchmark corpora
    text/          text clean-up, sentence and term rules, dedup, character error rate
    segment/       headings, page spans, subjects -> sections
    synth/         synthetic instruction examples (templates, teacher LMs, filters)
    tools/         the tutor's tool specs (search_textbook, make_quiz, show_3d_model)
    labelstudio/   Label Studio schema, client, export parsing, the annotations job
    dataset/       splits, dedup, decontamination, mixing
    training/      model loading, tokenizer, pretraining, SFT, checkpoints
    eval/          scoring, metrics, the evaluation report
    selection/     active learning: uncertainty + diversity
    registry/      model registry: stores, versions and aliases, promotion gate, the register job
    orchestration/ DVC runner, SkyPilot planning, DVC remote
    cli/           the `tutorforge` command (one command table)

docs/architecture.md draws the data flow and lists each record's contract.
"""
