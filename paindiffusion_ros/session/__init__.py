"""Whole-session tools: demo orchestration on plain machines, recording, session video."""
