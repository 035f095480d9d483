"""bimo synth stage."""
