"""The JobLand graph: state, run context and assembly."""
