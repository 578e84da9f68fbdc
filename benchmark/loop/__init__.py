"""The feedback loop: prompts, extraction of a template from a reply, feedback designs, the loop."""
