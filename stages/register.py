"""register: the evaluated model -> an immutable version in the model registry (S3 or a local dir); moves `staging`.

    python -m stages.register                                        # params.yaml [register] (default: local registry/)
    python -m stages.register -S register.registry=/tmp/reg -S register.version=v7 -S register.output=/tmp/reg.json
    python -m stages.register -S register.auto_promote=true          # also move `production` if the gate passes
    TUTORFORGE_REGISTRY=s3://my-bucket/tutorforge AWS_ENDPOINT_URL=http://127.0.0.1:5000 python -m stages.register
    dvc repro --single-item register

Environment: TUTORFORGE_REGISTRY (a local dir or s3://bucket/prefix) overrides `register.registry`, even one set
with -S; TUTORFORGE_S3_ENDPOINT_URL, then AWS_ENDPOINT_URL, override `register.endpoint_url`; S3 credentials come
from the standard AWS environment/config chain only (never written). Uploads `register.artifacts`, the metrics, a
model card and lineage.json (tutorforge/registry/register.py; race-safe protocol in tutorforge/registry/registry.py);
a byte-identical payload already registered gives that version again. Writes `register.output`
(registration.json: {name, version, uri, content_digest, created_at, files, total_size, staging, production}) through
core/outputs.py, like every stage's outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.io import write_json
from tutorforge.core.outputs import replace_outputs
from tutorforge.core.records import RecordError
from tutorforge.core.stage import StageError, stage_main
from tutorforge.registry.register import RegisterConfig, register
from tutorforge.registry.store import RegistryError

SECTION = "register"


def run(cfg: RegisterConfig) -> dict[str, Any]:
    """Register the model and write cfg.output; returns the registration record."""
    try:
        record = register(cfg)
    # a missing upstream output, a metrics.json that is not a JSON object, a version already taken, ...
    except (FileNotFoundError, RecordError, RegistryError) as e:
        raise StageError(str(e)) from None
    out = Path(cfg.output)
    with replace_outputs(out.parent, [out.name]) as outs:
        write_json(outs / out.name, record)
    print(
        f"register: {record['name']}:{record['version']} -> {record['uri']} (staging: {record['staging']}, "
        f"production: {record['production']}); wrote {cfg.output}"
    )
    return record


def main(argv: list[str] | None = None) -> int:
    return stage_main(RegisterConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
