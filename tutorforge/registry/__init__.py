"""Model registry on S3 or a local directory: object stores (store), immutable versions and CAS-moved aliases
(registry, aliases), the checks every manifest read back goes through (manifest), the promotion gate (gate), and the
register job (register).

A registration record (artifacts/register/registration.json):

    {"name": "tutorforge-tutor", "version": "v1", "uri": "registry/models/tutorforge-tutor/v1",
     "content_digest": "7f98f093...", "files": 25, "total_size": 48114956, "staging": "v1", "production": null}
"""
