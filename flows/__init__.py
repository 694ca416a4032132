"""Operator actions and Prefect flows (registry, Label Studio, cloud); they call stages, never re-implement them."""
