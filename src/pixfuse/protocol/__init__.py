"""Evaluation protocols: simulate the inputs of a fusion task from a reference, fuse, score."""
