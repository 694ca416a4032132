"""The tutor's tools: OpenAI-style function specs, call parsing and validation, the 3D-model catalogue.

A tool call as the model writes it:

    {"name": "show_3d_model", "arguments": {"model_id": "human_heart"}}
"""
