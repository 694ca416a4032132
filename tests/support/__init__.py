"""Test support: real servers as processes (servers), awkward PDFs (pdfs), a tiny evaluate tree (eval_artifacts),
fixture sections (sections), throwaway project copies (repo), store wrappers that inject a crash mid-upload or a
concurrent alias writer (registry_faults), registry payloads and params (registry_data), hostile keys and manifests
planted straight into the storage (registry_hostile), Label Studio test data and a connection-cutting proxy
(label_studio), a Label Studio that lies (endless pages, bad exports: lying_label_studio), a work folder and CLI runner
for the annotations stage (annotations_stage), page records for the segment tests (pages), an OpenAI-compatible chat
endpoint that logs every request or redirects (chat_endpoint), a server that refuses every request and echoes the
credentials back (rejecting_server), fake secrets and a scan for them (leaks), a SIGKILL at the Nth filesystem move
(crash), a recognisable generation of outputs to kill it on (outputs_writer) and a stage run as a process with its
one-line error checked (stage_process), a tiny model and encoded SFT examples (tiny_sft).
conftest.py starts the servers as session fixtures."""
