"""Label Studio: the four project kinds (schema), a client with retries and bounded paging (client), task payloads
for push (tasks), validated pulls into snapshot files (pull), snapshot parsing + validation shared by pull and the
stage (snapshot), limits on annotator text (text_guard), answers and conflict resolution (export), the annotations
job that turns snapshots into labels and examples (annotations).

A section label (artifacts/annotations/labels.jsonl):

    {"external_id": "section_label:54bf5b554a35cf2a", "section_id": "1b7729d90d9c44b8", "subject": "chemistry",
     "difficulty": "medium", "provenance": {"task_id": 27, "annotator": 4, "resolved_by": "tie_latest", ...}}
"""
