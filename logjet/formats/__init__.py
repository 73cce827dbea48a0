"""Log formats shared by the collectors and the processor: pure parsing, no I/O."""
