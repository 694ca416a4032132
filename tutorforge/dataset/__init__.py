"""Sections + examples -> the training sets: split by section, exact and near dedup, decontamination against
every held-out item, synthetic/annotation mixing, chat format.

A pretraining record (artifacts/dataset/pretrain/train.jsonl):

    {"section_id": "0b184b9748c8136d", "doc_id": "5ab9973c1fab5c4f", "subject": "chemistry",
     "text": "2.2 The Periodic Table\nThe periodic table arranges the elements in order of ..."}
"""
